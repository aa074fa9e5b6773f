// Augmentation: pipeline validation, determinism, and the properties each operation must have.

#include "runtime/Augment.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

using namespace netc::runtime;

namespace {

/// count images of (channels, height, width) with distinct values in [0, 1].
std::vector<float> pattern(int64_t count, int channels, int height, int width) {
    std::vector<float> images((size_t)(count * channels * height * width));
    for (size_t i = 0; i < images.size(); i++) images[i] = (float)((i * 37) % 251) / 251.0f;
    return images;
}

}  // namespace

TEST_CASE("pipelines from (name, parameters)") {
    auto pipeline = make_augment_pipeline({{"crop", {{"pad", 2}}},
                                           {"horizontal_flip", {}},
                                           {"cutout", {{"size", 5}}},
                                           {"colour_jitter", {{"contrast", 0.5}}},
                                           {"rotate", {{"degrees", 15}}}});
    REQUIRE_MESSAGE(pipeline.ok(), pipeline.message());
    REQUIRE(pipeline->size() == 5);
    const auto &p = pipeline.value();
    CHECK(p[0].kind == AugmentKind::RandomCrop);
    CHECK(p[0].pad == 2);
    CHECK(p[1].kind == AugmentKind::HorizontalFlip);
    CHECK(p[1].p == 0.5f);  // the default
    CHECK(p[2].kind == AugmentKind::Cutout);
    CHECK(p[2].size == 5);
    CHECK(p[2].p == 1.0f);  // cutout's default differs from hflip's
    CHECK(p[3].kind == AugmentKind::ColorJitter);
    CHECK(p[3].brightness == 0.2f);
    CHECK(p[3].contrast == 0.5f);
    CHECK(p[4].kind == AugmentKind::Rotation);
    CHECK(p[4].degrees == 15.0f);

    CHECK(make_augment_pipeline({{"mixup", {}}}).message() ==
          "augment: unknown augmentation 'mixup' (known: random_crop, hflip, cutout, color_jitter, "
          "rotation)");
    CHECK(make_augment_pipeline({{"random_crop", {{"padding", 4}}}}).message() ==
          "augment: random_crop: unknown parameter 'padding' (parameters: pad)");
    CHECK(make_augment_pipeline({{"random_crop", {{"pad", 1.5}}}}).message() ==
          "augment: random_crop: 'pad' is 1.5, expected an integer >= 0");
    CHECK(make_augment_pipeline({{"hflip", {{"p", 2}}}}).message() ==
          "augment: hflip: 'p' is 2, expected 0 to 1");
    CHECK(make_augment_pipeline({{"cutout", {{"size", 0}}}}).message() ==
          "augment: cutout: 'size' is 0, expected an integer >= 1");
    CHECK(make_augment_pipeline({{"rotation", {{"degrees", 200}}}}).message() ==
          "augment: rotation: 'degrees' is 200, expected 0 to 180");
    CHECK(make_augment_pipeline({{"hflip", {{"p", 0.1}, {"p", 0.2}}}}).message() ==
          "augment: hflip: parameter 'p' is given twice");
}

TEST_CASE("augmentation is deterministic in (seed, step, sample) and independent of splitting") {
    const std::vector<AugmentStep> all = {
        AugmentStep::random_crop(4), AugmentStep::hflip(0.5f), AugmentStep::cutout(8),
        AugmentStep::color_jitter(0.3f, 0.3f), AugmentStep::rotation(10.0f)};
    const auto source = pattern(8, 3, 32, 32);
    auto a = source, b = source, c = source, split = source;
    augment_batch(all, a.data(), 8, 3, 32, 32, 11, 5);
    augment_batch(all, b.data(), 8, 3, 32, 32, 11, 5);
    CHECK(a == b);
    CHECK(a != source);
    augment_batch(all, c.data(), 8, 3, 32, 32, 11, 6);
    CHECK(a != c);
    // Two halves with their positions give the same bits as one call.
    const size_t half = source.size() / 2;
    augment_batch(all, split.data(), 4, 3, 32, 32, 11, 5, 0);
    augment_batch(all, split.data() + half, 4, 3, 32, 32, 11, 5, 4);
    CHECK(split == a);
    // Different images of a batch get different draws.
    auto same = std::vector<float>();
    for (int i = 0; i < 8; i++)
        same.insert(same.end(), source.begin(), source.begin() + 3 * 32 * 32);
    augment_batch(all, same.data(), 8, 3, 32, 32, 11, 5);
    CHECK(!std::equal(same.begin(), same.begin() + 3072, same.begin() + 3072));
}

TEST_CASE("horizontal flip") {
    const auto source = pattern(4, 2, 5, 7);
    auto once = source;
    augment_batch({AugmentStep::hflip(1.0f)}, once.data(), 4, 2, 5, 7, 1, 0);
    CHECK(once[0] == source[6]);                  // row 0 reversed
    CHECK(once[7 * 5 + 1] == source[7 * 5 + 5]);  // channel 1, row 0, column 1
    auto twice = once;
    augment_batch({AugmentStep::hflip(1.0f)}, twice.data(), 4, 2, 5, 7, 1, 1);
    CHECK(twice == source);
    auto never = source;
    augment_batch({AugmentStep::hflip(0.0f)}, never.data(), 4, 2, 5, 7, 1, 0);
    CHECK(never == source);
    // p = 0.5 flips about half of many images.
    const auto many = pattern(1000, 1, 1, 2);
    auto flipped = many;
    augment_batch({AugmentStep::hflip(0.5f)}, flipped.data(), 1000, 1, 1, 2, 3, 0);
    int count = 0;
    for (int i = 0; i < 1000; i++) count += flipped[(size_t)(2 * i)] != many[(size_t)(2 * i)];
    CHECK(count > 430);
    CHECK(count < 570);
}

TEST_CASE("random crop") {
    const auto source = pattern(16, 2, 6, 5);
    auto same = source;
    augment_batch({AugmentStep::random_crop(0)}, same.data(), 16, 2, 6, 5, 1, 0);
    CHECK(same == source);

    // With padding, each image is the source shifted by some (dy, dx) in [-pad, pad], zero filled.
    const int pad = 2;
    auto cropped = source;
    augment_batch({AugmentStep::random_crop(pad)}, cropped.data(), 16, 2, 6, 5, 1, 0);
    int shifted = 0;
    for (int i = 0; i < 16; i++) {
        const float *in = source.data() + i * 60, *out = cropped.data() + i * 60;
        bool found = false;
        for (int dy = -pad; dy <= pad && !found; dy++) {
            for (int dx = -pad; dx <= pad && !found; dx++) {
                bool match = true;
                for (int c = 0; c < 2 && match; c++) {
                    for (int y = 0; y < 6 && match; y++) {
                        for (int x = 0; x < 5 && match; x++) {
                            const int sy = y + dy, sx = x + dx;
                            const float want = sy >= 0 && sy < 6 && sx >= 0 && sx < 5
                                                   ? in[c * 30 + sy * 5 + sx]
                                                   : 0.0f;
                            match = out[c * 30 + y * 5 + x] == want;
                        }
                    }
                }
                if (match) {
                    found = true;
                    shifted += dy != 0 || dx != 0;
                }
            }
        }
        CHECK_MESSAGE(found, "image " << i << " is not a shifted copy");
    }
    CHECK(shifted > 8);
}

TEST_CASE("cutout zeroes a clipped size x size square, the same in every channel") {
    const int size = 4, h = 12, w = 10;
    std::vector<float> images((size_t)(200 * 2 * h * w), 1.0f);
    augment_batch({AugmentStep::cutout(size)}, images.data(), 200, 2, h, w, 8, 0);
    int inside = 0;
    for (int i = 0; i < 200; i++) {
        int y0 = h, y1 = -1, x0 = w, x1 = -1, zeros = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                const float a = images[(size_t)(i * 2 * h * w + y * w + x)];
                const float b = images[(size_t)(i * 2 * h * w + h * w + y * w + x)];
                REQUIRE(a == b);
                REQUIRE((a == 0.0f || a == 1.0f));
                if (a == 0.0f) {
                    zeros++;
                    y0 = std::min(y0, y), y1 = std::max(y1, y), x0 = std::min(x0, x),
                    x1 = std::max(x1, x);
                }
            }
        }
        REQUIRE(zeros > 0);
        // The zeros form one rectangle no larger than the square.
        CHECK(zeros == (y1 - y0 + 1) * (x1 - x0 + 1));
        CHECK(y1 - y0 + 1 <= size);
        CHECK(x1 - x0 + 1 <= size);
        const bool touches_border = y0 == 0 || x0 == 0 || y1 == h - 1 || x1 == w - 1;
        if (!touches_border) {
            CHECK(zeros == size * size);
            inside++;
        }
    }
    CHECK(inside > 50);

    std::vector<float> untouched((size_t)(10 * h * w), 1.0f);
    augment_batch({AugmentStep::cutout(size, 0.0f)}, untouched.data(), 10, 1, h, w, 8, 0);
    CHECK(std::all_of(untouched.begin(), untouched.end(), [](float v) { return v == 1.0f; }));
}

TEST_CASE("colour jitter") {
    const auto source = pattern(4, 3, 6, 6);
    auto none = source;
    augment_batch({AugmentStep::color_jitter(0.0f, 0.0f)}, none.data(), 4, 3, 6, 6, 1, 0);
    CHECK(none == source);

    // Brightness alone scales every pixel of an image by one factor in [0.7, 1.3], clamped at 1.
    auto bright = source;
    augment_batch({AugmentStep::color_jitter(0.3f, 0.0f)}, bright.data(), 4, 3, 6, 6, 1, 0);
    for (int i = 0; i < 4; i++) {
        // The factor, from the darkest non-zero pixel (which cannot have been clamped).
        int darkest = -1;
        for (int k = 0; k < 108; k++) {
            const float v = source[(size_t)(i * 108 + k)];
            if (v > 0 && (darkest < 0 || v < source[(size_t)(i * 108 + darkest)])) darkest = k;
        }
        const float factor =
            bright[(size_t)(i * 108 + darkest)] / source[(size_t)(i * 108 + darkest)];
        CHECK(factor >= 0.7f);
        CHECK(factor <= 1.3f);
        for (int k = 0; k < 108; k++) {
            const float in = source[(size_t)(i * 108 + k)], out = bright[(size_t)(i * 108 + k)];
            CHECK(out == doctest::Approx(std::min(1.0f, in * factor)).epsilon(1e-5));
        }
    }

    // Contrast alone keeps the image's mean (no clamping for values near the middle).
    std::vector<float> mid(3 * 6 * 6);
    for (size_t k = 0; k < mid.size(); k++) mid[k] = 0.4f + 0.2f * (float)k / (float)mid.size();
    auto contrasted = mid;
    augment_batch({AugmentStep::color_jitter(0.0f, 0.5f)}, contrasted.data(), 1, 1, 1, 108, 2, 0);
    double before = 0, after = 0;
    for (size_t k = 0; k < mid.size(); k++) before += mid[k], after += contrasted[k];
    CHECK(after == doctest::Approx(before).epsilon(1e-5));
    CHECK(contrasted != mid);

    auto everything = source;
    augment_batch({AugmentStep::color_jitter(1.0f, 1.0f)}, everything.data(), 4, 3, 6, 6, 3, 0);
    CHECK(std::all_of(everything.begin(), everything.end(),
                      [](float v) { return v >= 0.0f && v <= 1.0f; }));
}

TEST_CASE("rotation") {
    const auto source = pattern(4, 2, 9, 9);
    auto zero = source;
    augment_batch({AugmentStep::rotation(0.0f)}, zero.data(), 4, 2, 9, 9, 1, 0);
    CHECK(zero == source);

    // A constant image keeps its centre and interior; the corners rotate out and get zeros.
    std::vector<float> ones((size_t)(16 * 9 * 9), 1.0f);
    augment_batch({AugmentStep::rotation(30.0f)}, ones.data(), 16, 1, 9, 9, 1, 0);
    int dark_corners = 0;
    for (int i = 0; i < 16; i++) {
        const float *im = ones.data() + i * 81;
        CHECK(im[4 * 9 + 4] == 1.0f);
        CHECK(im[3 * 9 + 4] == doctest::Approx(1.0f));
        for (int k = 0; k < 81; k++) REQUIRE((im[k] >= 0.0f && im[k] <= 1.0001f));
        dark_corners += im[0] + im[8] + im[72] + im[80] < 4.0f;
    }
    CHECK(dark_corners == 16);

    // Rotating a single bright pixel moves it along a circle about the centre: the mass is kept.
    std::vector<float> dot(81, 0.0f);
    dot[2 * 9 + 4] = 1.0f;  // two rows above the centre
    augment_batch({AugmentStep::rotation(20.0f)}, dot.data(), 1, 1, 9, 9, 4, 0);
    double mass = 0;
    for (float v : dot) mass += v;
    CHECK(mass == doctest::Approx(1.0).epsilon(0.02));
    CHECK(dot[2 * 9 + 4] < 1.0f);
}
