#include "runtime/Augment.h"

#include "runtime/Random.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace netc::runtime {

namespace {

/// Names the language accepts for each kind, canonical first.
struct KindNames {
    AugmentKind kind;
    std::vector<std::string> names;
    std::vector<std::string> params;
};

const std::vector<KindNames> &kind_table() {
    static const std::vector<KindNames> table = {
        {AugmentKind::RandomCrop, {"random_crop", "crop"}, {"pad"}},
        {AugmentKind::HorizontalFlip, {"hflip", "horizontal_flip"}, {"p"}},
        {AugmentKind::Cutout, {"cutout"}, {"size", "p"}},
        {AugmentKind::ColorJitter, {"color_jitter", "colour_jitter"}, {"brightness", "contrast"}},
        {AugmentKind::Rotation, {"rotation", "rotate"}, {"degrees"}},
    };
    return table;
}

std::string join(const std::vector<std::string> &words) {
    std::string out;
    for (const std::string &w : words) out += (out.empty() ? "" : ", ") + w;
    return out;
}

std::string number(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", v);
    return buffer;
}

/// Sets one parameter after checking its range; an error message on failure.
std::string set_param(AugmentStep &step, const std::string &name, double value) {
    auto in_range = [&](double lo, double hi) {
        return value >= lo && value <= hi ? std::string()
                                          : "'" + name + "' is " + number(value) + ", expected " +
                                                number(lo) + " to " + number(hi);
    };
    auto integer = [&](double lo, int &field) {
        if (value != std::floor(value) || value < lo || value > 1e6) {
            return "'" + name + "' is " + number(value) + ", expected an integer >= " + number(lo);
        }
        field = (int)value;
        return std::string();
    };
    auto fraction = [&](double lo, double hi, float &field) {
        std::string error = in_range(lo, hi);
        if (error.empty()) field = (float)value;
        return error;
    };
    switch (step.kind) {
    case AugmentKind::RandomCrop: return integer(0, step.pad);
    case AugmentKind::HorizontalFlip: return fraction(0, 1, step.p);
    case AugmentKind::Cutout:
        return name == "size" ? integer(1, step.size) : fraction(0, 1, step.p);
    case AugmentKind::ColorJitter:
        return fraction(0, 1, name == "brightness" ? step.brightness : step.contrast);
    case AugmentKind::Rotation: return fraction(0, 180, step.degrees);
    }
    return "unknown augmentation kind";
}

// ---- the operations, each on one image (channels, height, width) ----

struct Image {
    float *pixels;  // (channels, height, width)
    int channels, height, width;
    int64_t plane() const { return (int64_t)height * width; }
};

/// Shifts the image by (dy - pad, dx - pad) with zero fill: the same as padding by `pad` and
/// cropping the window at (dy, dx).
void random_crop(Image im, int pad, random::SplitMix64 &rng, std::vector<float> &scratch) {
    const int dy = (int)rng.below(2 * (uint64_t)pad + 1) - pad;
    const int dx = (int)rng.below(2 * (uint64_t)pad + 1) - pad;
    if (dy == 0 && dx == 0) return;
    const int64_t plane = im.plane();
    scratch.assign(im.pixels, im.pixels + plane * im.channels);
    // Output column x reads input column x + dx; the valid output columns are [x0, x1).
    const int x0 = std::max(0, -dx), x1 = std::min(im.width, im.width - dx);
    for (int c = 0; c < im.channels; c++) {
        for (int y = 0; y < im.height; y++) {
            float *out = im.pixels + c * plane + (int64_t)y * im.width;
            const int sy = y + dy;
            if (sy < 0 || sy >= im.height || x0 >= x1) {
                std::fill(out, out + im.width, 0.0f);
                continue;
            }
            const float *in = scratch.data() + c * plane + (int64_t)sy * im.width;
            std::fill(out, out + x0, 0.0f);
            std::memcpy(out + x0, in + x0 + dx, sizeof(float) * (size_t)(x1 - x0));
            std::fill(out + x1, out + im.width, 0.0f);
        }
    }
}

void hflip(Image im, float p, random::SplitMix64 &rng) {
    if (!(rng.uniform() < p)) return;
    for (int64_t row = 0; row < (int64_t)im.channels * im.height; row++) {
        float *r = im.pixels + row * im.width;
        std::reverse(r, r + im.width);
    }
}

/// Zeroes a size x size square whose centre is uniform over the image, clipped at the border
/// (DeVries and Taylor, 2017): rows [cy - size/2, cy - size/2 + size).
void cutout(Image im, int size, float p, random::SplitMix64 &rng) {
    const float u = rng.uniform();
    const int cy = (int)rng.below((uint64_t)im.height);
    const int cx = (int)rng.below((uint64_t)im.width);
    if (!(u < p)) return;
    const int y0 = std::max(0, cy - size / 2), y1 = std::min(im.height, cy - size / 2 + size);
    const int x0 = std::max(0, cx - size / 2), x1 = std::min(im.width, cx - size / 2 + size);
    if (y0 >= y1 || x0 >= x1) return;
    for (int c = 0; c < im.channels; c++) {
        for (int y = y0; y < y1; y++) {
            float *row = im.pixels + c * im.plane() + (int64_t)y * im.width;
            std::fill(row + x0, row + x1, 0.0f);
        }
    }
}

/// Brightness scales every pixel by b; contrast then scales each pixel's distance from the
/// image's mean gray level by c (luma 0.299 R + 0.587 G + 0.114 B for three channels, the plain
/// mean otherwise), as torchvision's ColorJitter does; results are clamped to [0, 1].
void color_jitter(Image im, float brightness, float contrast, random::SplitMix64 &rng) {
    const float b = rng.uniform(1.0f - brightness, 1.0f + brightness);
    const float c = rng.uniform(1.0f - contrast, 1.0f + contrast);
    const int64_t n = im.plane() * im.channels;
    if (b != 1.0f) {
        for (int64_t i = 0; i < n; i++)
            im.pixels[i] = std::min(1.0f, std::max(0.0f, im.pixels[i] * b));
    }
    if (c == 1.0f) return;  // (x - m) * 1 + m need not round back to x
    double mean = 0;
    if (im.channels == 3) {
        const double weights[3] = {0.299, 0.587, 0.114};
        for (int ch = 0; ch < 3; ch++) {
            double sum = 0;
            const float *p = im.pixels + ch * im.plane();
            for (int64_t i = 0; i < im.plane(); i++) sum += p[i];
            mean += weights[ch] * sum;
        }
        mean /= (double)im.plane();
    } else {
        for (int64_t i = 0; i < n; i++) mean += im.pixels[i];
        mean /= (double)n;
    }
    const float m = (float)mean;
    for (int64_t i = 0; i < n; i++) {
        im.pixels[i] = std::min(1.0f, std::max(0.0f, (im.pixels[i] - m) * c + m));
    }
}

/// Rotates about the image centre by an angle uniform in [-degrees, degrees]: each output pixel
/// samples the input at the inversely rotated position, bilinearly, with zero outside.
void rotation(Image im, float degrees, random::SplitMix64 &rng, std::vector<float> &scratch) {
    const float angle = rng.uniform(-degrees, degrees) * (float)(M_PI / 180.0);
    if (angle == 0.0f) return;
    const float cos_a = std::cos(angle), sin_a = std::sin(angle);
    const float cx = 0.5f * (float)(im.width - 1), cy = 0.5f * (float)(im.height - 1);
    // A copy with a one-pixel zero border: every sample position in [-1, width) x [-1, height)
    // then reads its four neighbours without bounds checks, and those outside are zero.
    const int pw = im.width + 2, ph = im.height + 2;
    const int64_t padded_plane = (int64_t)pw * ph, plane = im.plane();
    scratch.assign((size_t)(padded_plane * im.channels), 0.0f);
    for (int c = 0; c < im.channels; c++) {
        for (int y = 0; y < im.height; y++) {
            std::memcpy(scratch.data() + c * padded_plane + (int64_t)(y + 1) * pw + 1,
                        im.pixels + c * plane + (int64_t)y * im.width,
                        sizeof(float) * (size_t)im.width);
        }
    }
    const float max_x = (float)im.width, max_y = (float)im.height;
    for (int y = 0; y < im.height; y++) {
        const float v = (float)y - cy;
        for (int x = 0; x < im.width; x++) {
            const float u = (float)x - cx;
            // Shifted by one into the padded copy's coordinates, so the valid range is [0, size].
            const float sx = cos_a * u + sin_a * v + cx + 1.0f;
            const float sy = -sin_a * u + cos_a * v + cy + 1.0f;
            const int64_t out = (int64_t)y * im.width + x;
            if (!(sx >= 0.0f && sx < max_x + 1.0f && sy >= 0.0f && sy < max_y + 1.0f)) {
                for (int c = 0; c < im.channels; c++) im.pixels[c * plane + out] = 0.0f;
                continue;
            }
            const int x0 = (int)sx, y0 = (int)sy;  // floor, as both are >= 0
            const float ax = sx - (float)x0, ay = sy - (float)y0;
            const float w00 = (1 - ay) * (1 - ax), w01 = (1 - ay) * ax;
            const float w10 = ay * (1 - ax), w11 = ay * ax;
            const int64_t i00 = (int64_t)y0 * pw + x0;
            for (int c = 0; c < im.channels; c++) {
                const float *in = scratch.data() + c * padded_plane + i00;
                im.pixels[c * plane + out] =
                    w00 * in[0] + w01 * in[1] + w10 * in[pw] + w11 * in[pw + 1];
            }
        }
    }
}

}  // namespace

const char *to_string(AugmentKind kind) {
    switch (kind) {
    case AugmentKind::RandomCrop: return "random_crop";
    case AugmentKind::HorizontalFlip: return "hflip";
    case AugmentKind::Cutout: return "cutout";
    case AugmentKind::ColorJitter: return "color_jitter";
    case AugmentKind::Rotation: return "rotation";
    }
    return "unknown";
}

AugmentStep AugmentStep::random_crop(int pad) {
    AugmentStep s;
    s.kind = AugmentKind::RandomCrop;
    s.pad = pad;
    return s;
}

AugmentStep AugmentStep::hflip(float p) {
    AugmentStep s;
    s.kind = AugmentKind::HorizontalFlip;
    s.p = p;
    return s;
}

AugmentStep AugmentStep::cutout(int size, float p) {
    AugmentStep s;
    s.kind = AugmentKind::Cutout;
    s.size = size;
    s.p = p;
    return s;
}

AugmentStep AugmentStep::color_jitter(float brightness, float contrast) {
    AugmentStep s;
    s.kind = AugmentKind::ColorJitter;
    s.brightness = brightness;
    s.contrast = contrast;
    return s;
}

AugmentStep AugmentStep::rotation(float degrees) {
    AugmentStep s;
    s.kind = AugmentKind::Rotation;
    s.degrees = degrees;
    return s;
}

Result<std::vector<AugmentStep>> make_augment_pipeline(const std::vector<AugmentSpec> &specs) {
    using R = Result<std::vector<AugmentStep>>;
    std::vector<AugmentStep> pipeline;
    for (const AugmentSpec &spec : specs) {
        const KindNames *kind = nullptr;
        std::vector<std::string> known;
        for (const KindNames &k : kind_table()) {
            known.push_back(k.names[0]);
            if (std::find(k.names.begin(), k.names.end(), spec.name) != k.names.end()) kind = &k;
        }
        if (!kind) {
            return R::error("augment: unknown augmentation '" + spec.name +
                            "' (known: " + join(known) + ")");
        }
        AugmentStep step;
        step.kind = kind->kind;
        if (step.kind == AugmentKind::Cutout) step.p = 1.0f;
        const std::string where = std::string("augment: ") + to_string(step.kind) + ": ";
        for (size_t i = 0; i < spec.params.size(); i++) {
            const auto &[name, value] = spec.params[i];
            if (std::find(kind->params.begin(), kind->params.end(), name) == kind->params.end()) {
                return R::error(where + "unknown parameter '" + name +
                                "' (parameters: " + join(kind->params) + ")");
            }
            for (size_t j = 0; j < i; j++) {
                if (spec.params[j].first == name)
                    return R::error(where + "parameter '" + name + "' is given twice");
            }
            if (std::string error = set_param(step, name, value); !error.empty())
                return R::error(where + error);
        }
        pipeline.push_back(step);
    }
    return pipeline;
}

void augment_batch(const std::vector<AugmentStep> &pipeline, float *images, int64_t count,
                   int channels, int height, int width, uint64_t seed, int64_t step,
                   int64_t first) {
    if (pipeline.empty() || count <= 0 || channels <= 0 || height <= 0 || width <= 0) return;
    const uint64_t step_key =
        random::derive(random::derive(seed, random::AugmentStream), (uint64_t)step);
    std::vector<float> scratch;
    const int64_t image_size = (int64_t)channels * height * width;
    for (int64_t i = 0; i < count; i++) {
        const Image im{images + i * image_size, channels, height, width};
        const uint64_t sample_key = random::derive(step_key, (uint64_t)(first + i));
        for (size_t k = 0; k < pipeline.size(); k++) {
            const AugmentStep &op = pipeline[k];
            random::SplitMix64 rng(random::derive(sample_key, k));
            switch (op.kind) {
            case AugmentKind::RandomCrop: random_crop(im, op.pad, rng, scratch); break;
            case AugmentKind::HorizontalFlip: hflip(im, op.p, rng); break;
            case AugmentKind::Cutout: cutout(im, op.size, op.p, rng); break;
            case AugmentKind::ColorJitter: color_jitter(im, op.brightness, op.contrast, rng); break;
            case AugmentKind::Rotation: rotation(im, op.degrees, rng, scratch); break;
            }
        }
    }
}

}  // namespace netc::runtime
