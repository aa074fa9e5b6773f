#pragma once
// From a data set to training and evaluation batches: a validation split held out by fraction,
// per-channel normalization, a seeded shuffle per epoch, augmentation, and batching with the last
// partial batch yielded or dropped.
//
// Everything random is specified bit for bit (runtime/Random.h): the same seed gives the same
// split, the same order and the same augmented pixels on every machine. The shuffle is a
// Fisher-Yates over splitmix64 with Lemire's bounded integers, written out here rather than
// std::shuffle, whose results differ between standard libraries.

#include "runtime/Augment.h"
#include "runtime/Dataset.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netc::runtime {

// ---- normalization ----

struct Normalization {
    std::vector<float> mean;    // (channels)
    std::vector<float> stddev;  // (channels), > 0
};

/// Per-channel mean and (population) standard deviation over the images `indices` of `data`,
/// accumulated in double. A constant channel (or no images) gets std 1.
Normalization compute_normalization(const Dataset &data, const std::vector<int64_t> &indices);
/// The same over every image of `data`.
Normalization compute_normalization(const Dataset &data);

/// [0, count): every sample, for a Batcher or compute_normalization over a whole data set.
std::vector<int64_t> all_indices(int64_t count);

/// (x - mean[c]) / std[c] in place. images: (count, channels, height, width).
void normalize(const Normalization &norm, float *images, int64_t count, int channels, int height,
               int width);

/// "0.2860402,0.3530239": floats written so that they read back to the same bits, for a
/// checkpoint's `__metadata__` (normalization_mean, normalization_std).
std::string format_floats(const std::vector<float> &values);
/// The inverse of format_floats(); `what` names the value in the error message.
Result<std::vector<float>> parse_floats(const std::string &text, const std::string &what);

// ---- shuffling and the validation split ----

/// A permutation of [0, n) for (seed, epoch): Fisher-Yates from the last element down, swapping
/// element i with one drawn by SplitMix64(derive(derive(seed, ShuffleStream), epoch)).below(i + 1).
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, uint64_t epoch);

/// Shuffles `values` in place with the same procedure as shuffled_indices().
void shuffle(std::vector<int64_t> &values, uint64_t seed, uint64_t epoch);

struct ValidationSplit {
    std::vector<int64_t> train;       // ascending
    std::vector<int64_t> validation;  // ascending
};

/// Holds out round(fraction * count) samples for validation: the first ones of a permutation
/// drawn from (seed, SplitStream), so the split depends only on (count, fraction, seed) and
/// stays the same across epochs and resumed runs. fraction must be in [0, 1).
Result<ValidationSplit> split_validation(int64_t count, double fraction, uint64_t seed);

/// `folds` folds for k-fold cross-validation, stratified: each class's samples (by `labels`), in
/// an order drawn from (seed, FoldStream), are dealt to the folds in turn, the next class
/// starting where the last one stopped, so every fold holds within one sample of 1/folds of each
/// class and the folds' sizes differ by at most one. Each fold ascending; together a partition
/// of [0, labels.size()). Errors: folds < 2, or more folds than samples.
Result<std::vector<std::vector<int64_t>>> stratified_folds(const std::vector<int32_t> &labels,
                                                           int folds, uint64_t seed);

// ---- batches ----

struct BatcherOptions {
    int64_t batch = 64;
    bool shuffle = true;     // a new order each epoch; false keeps the order of `indices`
    uint64_t seed = 0;       // for the shuffle and the augmentation
    bool drop_last = false;  // false: the last, smaller batch is yielded with Batch::partial set
    std::optional<Normalization> normalization;  // applied after augmentation
    std::vector<AugmentStep> augment;            // empty for evaluation
};

struct Batch {
    int64_t epoch = 0;
    int64_t index = 0;             // within the epoch
    int64_t step = 0;              // epoch * batches_per_epoch() + index: the augmentation counter
    int64_t size = 0;              // samples in this batch, <= options.batch
    bool partial = false;          // size < options.batch (only the last batch of an epoch)
    std::vector<float> images;     // (size, channels, height, width)
    std::vector<int32_t> labels;   // (size)
    std::vector<int64_t> samples;  // (size) indices into the data set
};

/// Batches over the samples `indices` of a data set (all_indices(data.count) for all). The data set
/// must outlive the Batcher. Iterate an epoch with start_epoch() and next(), or fetch any batch
/// with get(): a batch is a pure function of (epoch, index), so a resumed run can pick up
/// mid-epoch.
class Batcher {
public:
    /// Options must be valid (batch >= 1, normalization of the data's channel count): a
    /// violation throws std::invalid_argument, as it is a bug in the caller.
    Batcher(const Dataset &data, std::vector<int64_t> indices, BatcherOptions options);

    int64_t samples() const { return (int64_t)indices_.size(); }
    int64_t batches_per_epoch() const;
    const BatcherOptions &options() const { return options_; }

    /// The samples of `epoch` in the order they are batched.
    std::vector<int64_t> epoch_order(int64_t epoch) const;

    void start_epoch(int64_t epoch);
    /// The next batch of the current epoch into `batch`; false when the epoch is done.
    bool next(Batch &batch);
    /// Batch `index` of the epoch last started. index < batches_per_epoch().
    void get(int64_t index, Batch &batch) const;
    /// The samples [first, first + count) of batch `index` (a rank's shard of a data-parallel
    /// step): the same images, augmented with the same draws (runtime/Augment.h keys them by
    /// the position in the whole batch), as get() gives at those positions. first + count must
    /// not pass the batch's size.
    void get(int64_t index, int64_t first, int64_t count, Batch &batch) const;
    /// The number of samples in batch `index` of any epoch.
    int64_t batch_size(int64_t index) const;

private:
    const Dataset &data_;
    std::vector<int64_t> indices_;
    BatcherOptions options_;
    int64_t epoch_ = 0;
    int64_t next_ = 0;
    std::vector<int64_t> order_;  // of epoch_
};

}  // namespace netc::runtime
