// The image decoder path of `netc predict` and image-folder data sets (runtime/ImageFolder.cpp and
// runtime/ImageDecode.h: libpng and TurboJPEG) on arbitrary bytes. The file is read twice: for a
// 28x28 grayscale model, as a user's stray file would be, and for the size its own header claims
// (when that is small enough to decode in a fuzzing run), so the decoder itself runs, with each
// channel count.

#include "runtime/Dataset.h"
#include "tests/fuzz/FuzzInput.h"

using namespace netc::runtime;

namespace {

void read_as(const std::string &path, ImageFolderOptions options) {
    Result<std::vector<float>> image = read_image(path, options);
    netc::fuzz::expect_message(image.ok(), image.message());
    if (!image) return;
    if (image->size() != (size_t)options.channels * options.height * options.width) std::abort();
    for (float v : *image) {
        if (!(v >= 0.0f && v <= 1.0f)) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const bool convert = data[0] & 1;
    const std::string path = netc::fuzz::write_scratch(data, size, ".png");
    read_as(path, {1, 28, 28, convert});
    Result<ImageShape> shape = read_image_shape(path);
    netc::fuzz::expect_message(shape.ok(), shape.message());
    if (shape && (int64_t)shape->width * shape->height <= 1 << 20) {
        for (int c = 1; c <= 4; c++) read_as(path, {c, shape->height, shape->width, convert});
    }
    return 0;
}
