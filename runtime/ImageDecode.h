#pragma once

// PNG (libpng) and JPEG (libjpeg-turbo's TurboJPEG API) decoding from memory, for the image-folder
// data sets and `netc predict`. Each file decodes to its own channel count (gray, gray + alpha,
// RGB or RGBA, 8 bits each); converting to the count a model wants is a separate step, the same
// for both formats, so that what a conversion does is written once (convert_channels).

#include "runtime/Status.h"

#include <cstdint>
#include <vector>

namespace netc::runtime {

struct ImageShape {
    int channels = 0, height = 0, width = 0;  // channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA
};

/// The shape a PNG or JPEG file's header declares, without decoding its pixels. The error message
/// says what is wrong (not a PNG or JPEG, the decoder's complaint); the caller adds the file name.
Result<ImageShape> probe_image(const uint8_t *data, size_t size);

/// Every pixel, interleaved (height, width, channels) bytes, at the shape probe_image reports. A
/// damaged file (a bad checksum, a truncated stream, a JPEG decoder warning) is an error, not an
/// image with gray blocks.
Result<std::vector<uint8_t>> decode_image(const uint8_t *data, size_t size,
                                          const ImageShape &shape);

/// `pixels` (height, width, from.channels) converted to (height, width, to_channels): gray is
/// copied to R, G and B; colour becomes its luma (77 R + 150 G + 29 B) >> 8; alpha is dropped, or
/// set to 255 where the source has none.
std::vector<uint8_t> convert_channels(const std::vector<uint8_t> &pixels, const ImageShape &from,
                                      int to_channels);

}  // namespace netc::runtime
