#include "runtime/Knn.h"

#include "runtime/Checkpoint.h"
#include "runtime/Safetensors.h"
#include "runtime/Trainer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace netc::runtime {

namespace {

constexpr const char *features_tensor = "reference.features";
constexpr const char *labels_tensor = "reference.labels";

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Status enough_samples(int k, int64_t count, const std::string &what) {
    if (count >= k) return {};
    return Status::error(what + " holds " + std::to_string(count) +
                         " samples, fewer than the model's k = " + std::to_string(k) +
                         ": lower k or use more data");
}

}  // namespace

int32_t vote(const int32_t *indices, const float *distances, int k,
             const std::vector<int32_t> &labels, int classes, bool weighted) {
    std::vector<float> share((size_t)classes, 0.0f);
    const bool exact = distances[0] == 0.0f;
    for (int i = 0; i < k; i++) {
        const float w = !weighted ? 1.0f
                        : exact   ? (distances[i] == 0.0f ? 1.0f : 0.0f)
                                  : 1.0f / distances[i];
        share[(size_t)labels[(size_t)indices[i]]] += w;
    }
    return (int32_t)(std::max_element(share.begin(), share.end()) - share.begin());
}

Result<ReferenceSet> reference_of(NeighborModel &model, const Dataset &data,
                                  const std::vector<int64_t> &indices, const Normalization &norm,
                                  int64_t batch) {
    ReferenceSet ref;
    ref.count = (int64_t)indices.size();
    ref.features = model.feature_count();
    ref.values.resize((size_t)(ref.count * ref.features));
    ref.labels.reserve(indices.size());
    BatcherOptions options;
    options.batch = batch;
    options.shuffle = false;
    options.normalization = norm;
    Batcher batcher(data, indices, options);
    batcher.start_epoch(0);
    Batch b;
    int64_t done = 0;
    while (batcher.next(b)) {
        if (Status s = model.features(b.images.data(), b.size,
                                      ref.values.data() + (size_t)(done * ref.features));
            !s) {
            return s;
        }
        ref.labels.insert(ref.labels.end(), b.labels.begin(), b.labels.begin() + b.size);
        done += b.size;
    }
    return ref;
}

Result<KnnFit> fit_knn(NeighborModel &model, const Dataset &data, const KnnConfig &config) {
    Result<ValidationSplit> split = split_validation(data.count, config.validation, config.seed);
    if (!split) return split.status();
    if (Status s = enough_samples(model.k(), (int64_t)split->train.size(), "the training split");
        !s) {
        return s;
    }
    KnnFit fit;
    fit.normalization = compute_normalization(data, split->train);
    auto t0 = std::chrono::steady_clock::now();
    Result<ReferenceSet> ref =
        reference_of(model, data, split->train, fit.normalization, config.batch);
    if (!ref) return ref.status();
    fit.reference = std::move(*ref);
    fit.feature_seconds = seconds_since(t0);
    if (config.progress) {
        *config.progress << "stored the features of " << fit.reference.count << " samples ("
                         << fit.reference.features << " floats each) in " << fit.feature_seconds
                         << " s\n";
    }
    fit.validation_samples = (int64_t)split->validation.size();
    if (split->validation.empty()) return fit;
    PredictBatch classify = [&](const float *images, int64_t n, float *probs) {
        return model.classify(fit.reference, images, n, probs);
    };
    Result<Evaluation> e = evaluate(classify, model.info().data.classes, data, split->validation,
                                    fit.normalization, config.batch);
    if (!e) return e.status();
    fit.validation_accuracy = e->accuracy;
    fit.validation_seconds = e->seconds;
    return fit;
}

Status save_knn_checkpoint(const std::string &path, const NeighborModel &model, const KnnFit &fit,
                           const std::vector<std::string> &class_names, uint64_t seed) {
    const ReferenceSet &ref = fit.reference;
    std::map<std::string, std::string> meta =
        identity_metadata(model.info(), class_names, fit.normalization);
    char accuracy[32];
    std::snprintf(accuracy, sizeof accuracy, "%.17g", fit.validation_accuracy);
    meta.insert(
        {{"kind", "knn"}, {"seed", std::to_string(seed)}, {"validation_accuracy", accuracy}});
    return write_safetensors(
        path,
        {{features_tensor, DType::F32, {ref.count, ref.features}, ref.values.data()},
         {labels_tensor, DType::I32, {ref.count}, ref.labels.data()}},
        meta);
}

Result<KnnCheckpoint> load_knn_checkpoint(const std::string &path, const NeighborModel &model,
                                          bool allow_nonfinite) {
    return load_knn_checkpoint(path, model.info(), model.feature_count(), model.k(),
                               allow_nonfinite);
}

Result<KnnCheckpoint> load_knn_checkpoint(const std::string &path, const ModelInfo &info,
                                          int64_t feature_count, int k, bool allow_nonfinite) {
    using R = Result<KnnCheckpoint>;
    Result<SafetensorsFile> read = read_safetensors(path);
    if (!read) return read.status();
    const SafetensorsFile &file = *read;
    // The kind first: a parameter checkpoint (netc's or a PyTorch state_dict) is told apart.
    auto kind = file.metadata.find("kind");
    if (kind == file.metadata.end() || kind->second != "knn") {
        return R::error(path + ": not the checkpoint of a kNN model (no 'kind' \"knn\" in "
                               "__metadata__): a kNN model's checkpoint holds its stored "
                               "training set, written by netc train");
    }
    if (Status s = check_format(file); !s) return s;
    const Tensor *features = file.find(features_tensor);
    const Tensor *labels = file.find(labels_tensor);
    const int64_t count = features && features->shape.size() == 2 ? features->shape[0] : 0;
    Status tensors = check_tensors(
        file, {{features_tensor, {count, feature_count}}, {labels_tensor, {count}, DType::I32}});
    if (!tensors) {
        return R::error(tensors.message() + "\n" + path + ": the checkpoint does not fit model '" +
                        info.name + "'");
    }
    if (!allow_nonfinite) {
        if (Status finite = check_finite(file); !finite) {
            return R::error(finite.message() +
                            "; refused (netc's --allow-nonfinite loads it anyway)");
        }
    }
    Result<CheckpointIdentity> identity = read_identity(file, info);
    if (!identity) return identity.status();
    if (Status s = enough_samples(k, count, path + ": the stored training set"); !s) return s;

    KnnCheckpoint ckpt;
    ckpt.class_names = std::move(identity->class_names);
    ckpt.normalization = std::move(identity->normalization);
    ReferenceSet &ref = ckpt.reference;
    ref.count = count;
    ref.features = feature_count;
    ref.values = features->floats();
    ref.labels.resize((size_t)count);
    std::memcpy(ref.labels.data(), labels->data.data(), labels->data.size());
    const int classes = info.data.classes;
    for (int64_t r = 0; r < count; r++) {
        if (ref.labels[(size_t)r] < 0 || ref.labels[(size_t)r] >= classes) {
            return R::error(path + ": tensor '" + labels_tensor + "' holds label " +
                            std::to_string(ref.labels[(size_t)r]) + " at index [" +
                            std::to_string(r) + "], outside [0, " + std::to_string(classes) + ")");
        }
    }
    return ckpt;
}

}  // namespace netc::runtime
