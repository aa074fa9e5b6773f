#pragma once
// Nearest-neighbour models (`classify knn(...)`, compiler/Knn.h) in the runtime: "training" one
// stores the training split's features (normalized with its statistics, computed by the model's
// own `features` entry point) as the reference set; classifying compares queries with it. The
// same interface runs a JIT-compiled model (tools/netc/JitTrainable.h) or an AOT object.
//
// The checkpoint of a kNN model (best.safetensors):
//   reference.features   F32 [samples, features]   one row per training sample
//   reference.labels     I32 [samples]             their classes
//   __metadata__         format ("netc-checkpoint"), format_version, kind ("knn"), model,
//                        class_names, normalization_mean, normalization_std, seed,
//                        validation_accuracy (-1: no validation split)

#include "runtime/Batcher.h"
#include "runtime/Dataset.h"
#include "runtime/Status.h"
#include "runtime/TrainableModel.h"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace netc::runtime {

/// The stored training samples a kNN model classifies by.
struct ReferenceSet {
    int64_t count = 0;
    int64_t features = 0;         // floats per sample
    std::vector<float> values;    // (count, features)
    std::vector<int32_t> labels;  // (count)
};

class NeighborModel {
public:
    virtual ~NeighborModel() = default;

    /// Name, input shape and classes (no tensors: a kNN model has no parameters).
    virtual const ModelInfo &info() const = 0;
    virtual int64_t feature_count() const = 0;
    virtual int k() const = 0;
    /// images (batch, C, H, W), normalized -> features (batch, feature_count()).
    virtual Status features(const float *images, int64_t batch, float *features) = 0;
    /// images -> probs (batch, classes): each class's share of the k nearest's votes.
    virtual Status classify(const ReferenceSet &reference, const float *images, int64_t batch,
                            float *probs) = 0;
    /// images -> the k nearest reference indices and distances (batch, k), nearest first.
    virtual Status neighbors(const ReferenceSet &reference, const float *images, int64_t batch,
                             int32_t *indices, float *distances) = 0;
};

/// The class the `k` nearest of a query's neighbours (reference indices and distances, nearest
/// first, as `neighbors` gives them for any k' >= k) vote for, as the classify pipeline
/// decides: votes (weighted by 1 / distance with `weighted`, or those at distance 0 alone)
/// summed in float in order, the first class with the most. For tuning k without recomputing
/// distances.
int32_t vote(const int32_t *indices, const float *distances, int k,
             const std::vector<int32_t> &labels, int classes, bool weighted);

struct KnnConfig {
    int64_t batch = 256;      // samples per pipeline call
    uint64_t seed = 0;        // of the validation split
    double validation = 0.1;  // fraction of the training data held out
    std::ostream *progress = nullptr;
};

struct KnnFit {
    ReferenceSet reference;
    Normalization normalization;
    int64_t validation_samples = 0;
    double validation_accuracy = -1;  // -1: no validation split
    double feature_seconds = 0;       // computing the reference set's features
    double validation_seconds = 0;    // classifying the validation split
};

/// The reference set of `data`'s training split, and the validation split's accuracy against
/// it. Errors: a training split of fewer than k samples (naming k and the count).
Result<KnnFit> fit_knn(NeighborModel &model, const Dataset &data, const KnnConfig &config);

/// The features of `indices` of `data`, normalized with `norm`, in batches of `batch`.
Result<ReferenceSet> reference_of(NeighborModel &model, const Dataset &data,
                                  const std::vector<int64_t> &indices, const Normalization &norm,
                                  int64_t batch);

/// Writes a kNN checkpoint atomically (see above).
Status save_knn_checkpoint(const std::string &path, const NeighborModel &model, const KnnFit &fit,
                           const std::vector<std::string> &class_names, uint64_t seed);

struct KnnCheckpoint {
    ReferenceSet reference;
    Normalization normalization;
    std::vector<std::string> class_names;
};

/// Reads a kNN checkpoint for `model`: the right model, features of the right size, labels in
/// range, every value finite (unless `allow_nonfinite`), at least k samples.
Result<KnnCheckpoint> load_knn_checkpoint(const std::string &path, const NeighborModel &model,
                                          bool allow_nonfinite = false);
/// The same for a model known by its description alone (the exports, which compile nothing):
/// `feature_count` floats a sample, at least `k` samples.
Result<KnnCheckpoint> load_knn_checkpoint(const std::string &path, const ModelInfo &info,
                                          int64_t feature_count, int k,
                                          bool allow_nonfinite = false);

}  // namespace netc::runtime
