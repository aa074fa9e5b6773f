#pragma once
// Data augmentation for training batches: random crop with zero padding, horizontal flip,
// cutout, colour jitter (brightness, contrast) and small rotations, applied in place to NCHW
// float images with pixels in [0, 1] (before normalization, so zero padding is black).
//
// Every random number an image uses is a pure function of (seed, step, index of the image in the
// batch, position of the operation in the pipeline), drawn from runtime/Random.h, so a batch
// augments to the same bits on every machine whatever the thread count, and a resumed run sees
// the same augmentations as an uninterrupted one.
//
// The pipeline is plain data: the caller (the compiler, from a model's `augment` list) describes
// it as (name, parameters) pairs, and make_augment_pipeline() validates them.

#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace netc::runtime {

enum class AugmentKind { RandomCrop, HorizontalFlip, Cutout, ColorJitter, Rotation };

/// The canonical name: "random_crop", "hflip", "cutout", "color_jitter", "rotation".
const char *to_string(AugmentKind kind);

/// One operation of a pipeline; only the fields of its kind are used. The defaults are those of
/// the language (compiler/Settings.cpp), so a spec that omits a parameter means the same thing
/// here.
struct AugmentStep {
    AugmentKind kind = AugmentKind::HorizontalFlip;
    int pad = 4;     // random_crop: zero padding on each side, then a window of the original size
    float p = 0.5f;  // hflip: probability of mirroring; cutout: probability of applying
    int size = 8;    // cutout: side of the zeroed square (centred anywhere, clipped at the border)
    float brightness =
        0.2f;  // color_jitter: pixels scaled by a factor in [1 - brightness, 1 + brightness]
    float contrast =
        0.2f;  // color_jitter: distance from the mean scaled by [1 - contrast, 1 + contrast]
    float degrees = 10.0f;  // rotation: angle uniform in [-degrees, degrees], bilinear, zero fill

    static AugmentStep random_crop(int pad);
    static AugmentStep hflip(float p);
    static AugmentStep cutout(int size, float p = 1.0f);
    static AugmentStep color_jitter(float brightness, float contrast);
    static AugmentStep rotation(float degrees);
};

/// An augmentation as the language writes it: `random_crop(pad=4)` is {"random_crop", {{"pad",
/// 4}}}.
struct AugmentSpec {
    std::string name;  // a canonical name or an alias: crop, horizontal_flip, colour_jitter, rotate
    std::vector<std::pair<std::string, double>> params;
};

/// Validates names, parameter names and ranges, and fills in defaults. Errors read
/// `augment: random_crop: unknown parameter 'padding' (parameters: pad)`.
Result<std::vector<AugmentStep>> make_augment_pipeline(const std::vector<AugmentSpec> &specs);

/// Applies `pipeline` in order to every image of the batch, in place.
/// images: (count, channels, height, width), pixels in [0, 1].
/// `step` is the training step (or any counter that differs between batches); image i draws its
/// numbers from (seed, step, first + i). A caller that splits a batch between threads passes each
/// part's position as `first` and gets the same pixels as one call over the whole batch.
void augment_batch(const std::vector<AugmentStep> &pipeline, float *images, int64_t count,
                   int channels, int height, int width, uint64_t seed, int64_t step,
                   int64_t first = 0);

}  // namespace netc::runtime
