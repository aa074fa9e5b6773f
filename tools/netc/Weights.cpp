#include "tools/netc/Weights.h"

#include "compiler/Knn.h"
#include "runtime/Batcher.h"
#include "runtime/Checkpoint.h"
#include "runtime/Knn.h"
#include "runtime/Safetensors.h"
#include "tools/netc/JitTrainable.h"

#include <algorithm>

namespace netc {

bool load_weights(const std::string &path, const Graph &graph, const ParamLayout &layout,
                  EmbeddedWeights &out, std::string &error, bool allow_nonfinite) {
    runtime::Result<runtime::SafetensorsFile> file = runtime::read_safetensors(path);
    if (!file) {
        error = file.message();
        return false;
    }
    std::vector<runtime::ExpectedTensor> expected;
    std::vector<std::string> names;
    for (const ParamEntry &e : layout.entries) {
        expected.push_back({e.name, e.shape.dims});
        names.push_back(e.name);
    }
    // A checkpoint also carries the optimizer state, a PyTorch state_dict batchnorm's counters;
    // only the arena is compiled in.
    std::vector<std::string> ignored = runtime::torch_only_tensors(names);
    ignored.insert(ignored.end(), {"optimizer.", "step", "epoch"});
    runtime::Status matches = runtime::check_tensors(*file, expected, ignored);
    if (!matches.ok()) {
        error = matches.message();
        return false;
    }
    if (runtime::Status finite = runtime::check_finite(*file); !allow_nonfinite && !finite.ok()) {
        error = finite.message() + "; refused (--allow-nonfinite compiles it in anyway)";
        return false;
    }
    out.arena.assign(layout.total, 0.0f);
    for (const ParamEntry &e : layout.entries) {
        std::vector<float> values = file->find(e.name)->floats();
        std::copy(values.begin(), values.end(), out.arena.begin() + e.offset);
    }
    out.mean.clear();
    out.stddev.clear();
    auto mean = file->metadata.find("normalization_mean");
    auto stddev = file->metadata.find("normalization_std");
    if (mean != file->metadata.end() && stddev != file->metadata.end()) {
        auto m = runtime::parse_floats(mean->second, path + ": normalization_mean");
        auto s = runtime::parse_floats(stddev->second, path + ": normalization_std");
        if (!m || !s) {
            error = !m ? m.message() : s.message();
            return false;
        }
        int channels = (int)graph.input.dims[0];
        if ((int)m->size() != channels || (int)s->size() != channels ||
            std::any_of(s->begin(), s->end(), [](float v) { return !(v > 0); })) {
            error = path + ": the normalization in the metadata does not fit the model's " +
                    std::to_string(channels) + " input channels";
            return false;
        }
        out.mean = *m;
        out.stddev = *s;
    }
    return true;
}

bool load_knn_weights(const std::string &path, const Graph &graph, const ParamLayout &layout,
                      EmbeddedWeights &out, std::string &error, bool allow_nonfinite) {
    runtime::Result<runtime::KnnCheckpoint> ckpt = runtime::load_knn_checkpoint(
        path, model_info(graph, layout), knn_feature_count(graph), knn_k(graph), allow_nonfinite);
    if (!ckpt) {
        error = ckpt.message();
        return false;
    }
    out.arena.assign(layout.total, 0.0f);
    out.mean = ckpt->normalization.mean;
    out.stddev = ckpt->normalization.stddev;
    out.reference = std::move(ckpt->reference.values);
    out.reference_labels = std::move(ckpt->reference.labels);
    return true;
}

}  // namespace netc
