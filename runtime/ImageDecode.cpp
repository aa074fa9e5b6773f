// PNG through libpng's progressive reader and JPEG through TurboJPEG, both from memory.
//
// libpng reports errors by longjmp from its error callback. The functions that call setjmp
// (run_png) hold no object with a destructor: everything that outlives an error lives in the
// caller, so jumping back skips nothing.

#include "runtime/ImageDecode.h"

#include <png.h>
#include <turbojpeg.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

namespace netc::runtime {

namespace {

constexpr uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr uint8_t jpeg_start[3] = {0xff, 0xd8, 0xff};

enum class Format { Png, Jpeg, Other };

Format sniff(const uint8_t *data, size_t size) {
    if (size >= sizeof png_signature && std::memcmp(data, png_signature, sizeof png_signature) == 0)
        return Format::Png;
    if (size >= sizeof jpeg_start && std::memcmp(data, jpeg_start, sizeof jpeg_start) == 0)
        return Format::Jpeg;
    return Format::Other;
}

const char *const not_an_image =
    "it starts with neither PNG's signature (89 50 4E 47 0D 0A 1A 0A) nor JPEG's start of image "
    "(FF D8 FF)";

// ---- PNG ----

struct PngSource {
    const uint8_t *data;
    size_t size;
    size_t position = 0;
    char message[256] = "libpng failed without a message";
};

void png_read_bytes(png_structp png, png_bytep out, size_t count) {
    auto *source = static_cast<PngSource *>(png_get_io_ptr(png));
    if (count > source->size - source->position) png_error(png, "the file ends inside the image");
    std::memcpy(out, source->data + source->position, count);
    source->position += count;
}

[[noreturn]] void png_fail(png_structp png, png_const_charp message) {
    auto *source = static_cast<PngSource *>(png_get_error_ptr(png));
    std::snprintf(source->message, sizeof source->message, "%s", message);
    png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}

/// Reads the header into `shape` and, when `pixels` is not null, every pixel into it. False on
/// any error, with source.message saying what. Palettes and transparency chunks become RGB(A),
/// 1, 2 and 4-bit gray becomes 8-bit, 16-bit samples keep their high byte.
bool run_png(PngSource &source, ImageShape &shape, std::vector<uint8_t> *pixels) {
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_fail, png_ignore_warning);
    if (!png) return false;
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, nullptr);
        return false;
    }
    png_set_read_fn(png, &source, png_read_bytes);
    png_read_info(png, info);
    const int color = png_get_color_type(png, info);
    const int depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_strip_16(png);
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    // libpng refuses a width or height above 1,000,000 (its default user limit): both fit an int.
    shape.channels = png_get_channels(png, info);
    shape.height = (int)png_get_image_height(png, info);
    shape.width = (int)png_get_image_width(png, info);
    if (pixels) {
        const size_t row = (size_t)shape.width * shape.channels;
        if (png_get_rowbytes(png, info) != row) png_error(png, "unexpected row size");
        pixels->resize(row * shape.height);
        for (int pass = 0; pass < passes; pass++) {
            for (int y = 0; y < shape.height; y++)
                png_read_row(png, pixels->data() + row * y, nullptr);
        }
        png_read_end(png, nullptr);
    }
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
}

Status read_png(const uint8_t *data, size_t size, ImageShape &shape, std::vector<uint8_t> *pixels) {
    PngSource source{data, size};
    if (!run_png(source, shape, pixels))
        return Status::error(std::string("PNG: ") + source.message);
    return Status();
}

Status same_shape(const char *format, const ImageShape &a, const ImageShape &b) {
    if (a.channels == b.channels && a.height == b.height && a.width == b.width) return Status();
    return Status::error(std::string("internal: the ") + format +
                         " header decoded differently from its probe");
}

// ---- JPEG ----

using Decompressor = std::unique_ptr<void, int (*)(tjhandle)>;

Result<Decompressor> jpeg_decompressor() {
    Decompressor handle(tjInitDecompress(), tjDestroy);
    if (!handle) {
        return Result<Decompressor>::error(std::string("JPEG: ") + tjGetErrorStr2(nullptr));
    }
    return handle;
}

Result<ImageShape> probe_jpeg(tjhandle handle, const uint8_t *data, size_t size) {
    int width = 0, height = 0, subsampling = 0, colorspace = 0;
    if (tjDecompressHeader3(handle, data, (unsigned long)size, &width, &height, &subsampling,
                            &colorspace) != 0) {
        return Result<ImageShape>::error(std::string("JPEG: ") + tjGetErrorStr2(handle));
    }
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK)
        return Result<ImageShape>::error("JPEG: CMYK images are not read; save it as RGB");
    if (width < 1 || height < 1)
        return Result<ImageShape>::error("JPEG: the header declares an empty image");
    return ImageShape{colorspace == TJCS_GRAY ? 1 : 3, height, width};
}

}  // namespace

Result<ImageShape> probe_image(const uint8_t *data, size_t size) {
    switch (sniff(data, size)) {
    case Format::Png: {
        ImageShape shape;
        if (Status header = read_png(data, size, shape, nullptr); !header) return header;
        return shape;
    }
    case Format::Jpeg: {
        auto handle = jpeg_decompressor();
        if (!handle) return handle.status();
        return probe_jpeg(handle->get(), data, size);
    }
    case Format::Other: break;
    }
    return Result<ImageShape>::error(not_an_image);
}

Result<std::vector<uint8_t>> decode_image(const uint8_t *data, size_t size,
                                          const ImageShape &shape) {
    using Pixels = Result<std::vector<uint8_t>>;
    std::vector<uint8_t> pixels;
    switch (sniff(data, size)) {
    case Format::Png: {
        ImageShape decoded;
        if (Status png = read_png(data, size, decoded, &pixels); !png) return png;
        if (Status same = same_shape("PNG", decoded, shape); !same) return same;
        return pixels;
    }
    case Format::Jpeg: {
        auto handle = jpeg_decompressor();
        if (!handle) return handle.status();
        auto header = probe_jpeg(handle->get(), data, size);
        if (!header) return header.status();
        if (Status same = same_shape("JPEG", header.value(), shape); !same) return same;
        pixels.resize((size_t)shape.height * shape.width * shape.channels);
        // A warning (a truncated stream, a corrupt segment) stops the decoder: a damaged file is
        // refused, not filled with gray.
        if (tjDecompress2(handle->get(), data, (unsigned long)size, pixels.data(), shape.width, 0,
                          shape.height, shape.channels == 1 ? TJPF_GRAY : TJPF_RGB,
                          TJFLAG_STOPONWARNING) != 0) {
            return Pixels::error(std::string("JPEG: ") + tjGetErrorStr2(handle->get()));
        }
        return pixels;
    }
    case Format::Other: break;
    }
    return Pixels::error(not_an_image);
}

std::vector<uint8_t> convert_channels(const std::vector<uint8_t> &pixels, const ImageShape &from,
                                      int to_channels) {
    if (from.channels == to_channels) return pixels;
    const size_t count = (size_t)from.height * from.width;
    std::vector<uint8_t> out(count * to_channels);
    for (size_t p = 0; p < count; p++) {
        const uint8_t *in = &pixels[p * from.channels];
        const bool colour = from.channels >= 3;
        const uint8_t r = in[0], g = colour ? in[1] : in[0], b = colour ? in[2] : in[0];
        const uint8_t alpha =
            from.channels == 2 || from.channels == 4 ? in[from.channels - 1] : 255;
        // 77 + 150 + 29 = 256: gray in is gray out, unchanged.
        const uint8_t luma = (uint8_t)((r * 77 + g * 150 + b * 29) >> 8);
        uint8_t *o = &out[p * to_channels];
        switch (to_channels) {
        case 1: o[0] = luma; break;
        case 2: o[0] = luma, o[1] = alpha; break;
        case 3: o[0] = r, o[1] = g, o[2] = b; break;
        case 4: o[0] = r, o[1] = g, o[2] = b, o[3] = alpha; break;
        }
    }
    return out;
}

}  // namespace netc::runtime
