#include "tools/netc/JitTrainable.h"

#include "compiler/Knn.h"
#include "compiler/Optimizer.h"
#include "compiler/Settings.h"

#include <cstdint>
#include <stdexcept>

namespace netc {

runtime::ModelInfo model_info(const Graph &graph, const ParamLayout &layout) {
    runtime::ModelInfo info;
    info.name = graph.model;
    info.data = data_spec(graph);
    for (const ParamEntry &e : layout.entries) {
        info.tensors.push_back({e.name, e.shape.dims, e.offset, e.trainable()});
    }
    if (!graph.is_knn()) {
        info.optimizer = graph.train.optimizer.name;
        info.optimizer_slots = optimizer_slot_names(graph.train.optimizer);
    }
    return info;
}

runtime::DataSpec data_spec(const Graph &graph) {
    runtime::DataSpec spec;
    const std::vector<int64_t> &in = graph.input.dims;
    spec.channels = in.size() == 3 ? (int)in[0] : 1;
    spec.height = in.size() == 3 ? (int)in[1] : (int)(in.size() == 2 ? in[0] : 1);
    spec.width = (int)(in.empty() ? 1 : in.back());
    spec.classes = (int)graph.classes;
    return spec;
}

namespace {

/// Runs `call`, turning the JIT's refusal of a bad argument into a Status.
template <typename Call> runtime::Status refused_as_status(Call call) {
    try {
        call();
    } catch (const std::invalid_argument &e) {
        return runtime::Status::error(e.what());
    }
    return {};
}

}  // namespace

JitTrainable::JitTrainable(const Graph &graph, const ParamLayout &layout, Strategy strategy)
    : jit_(graph, layout, default_jit_target(), strategy), info_(model_info(graph, layout)) {}

runtime::Status JitTrainable::predict(const float *params, const float *images, int64_t batch,
                                      float *probs) {
    jit_.predict(params, images, (int)batch, probs);
    return {};
}

namespace {

/// refused_as_status, the message naming the step.
template <typename Call> runtime::Status at_step(int64_t step, Call call) {
    runtime::Status s = refused_as_status(call);
    if (s) return s;
    return runtime::Status::error("step " + std::to_string(step) + ": " + s.message());
}

runtime::StepLosses losses_of(const JitModel::StepResult &r) {
    return {r.data_loss, r.regularization, r.learning_rate};
}

}  // namespace

runtime::Status JitTrainable::train_step(float *params, float *opt_state, const float *images,
                                         const int32_t *labels, int64_t batch, int64_t step,
                                         runtime::StepLosses &losses) {
    return at_step(step, [&] {
        losses = losses_of(jit_.train_step(params, opt_state, images, labels, (int)batch, step));
    });
}

runtime::Status JitTrainable::gradient(const float *params, const float *images,
                                       const int32_t *labels, int64_t batch, int64_t sample_offset,
                                       int64_t step, float *grad, runtime::StepLosses &losses) {
    if (sample_offset < 0 || sample_offset + batch > INT32_MAX) {
        return runtime::Status::error("step " + std::to_string(step) + ": sample offset " +
                                      std::to_string(sample_offset) + " is out of range");
    }
    return at_step(step, [&] {
        losses = losses_of(
            jit_.gradient(params, images, labels, (int)batch, step, grad, (int32_t)sample_offset));
    });
}

runtime::Status JitTrainable::apply_update(float *params, float *opt_state, const float *grad,
                                           int64_t step) {
    return at_step(step, [&] { jit_.apply_update(params, opt_state, grad, step); });
}

JitNeighbors::JitNeighbors(const Graph &graph, const ParamLayout &layout, Strategy strategy)
    : jit_(graph, layout, default_jit_target(), strategy), info_(model_info(graph, layout)) {}

int64_t JitNeighbors::feature_count() const { return knn_feature_count(jit_.graph()); }

int JitNeighbors::k() const { return knn_k(jit_.graph()); }

namespace {

JitModel::Call knn_call(const runtime::ReferenceSet *reference, const float *images,
                        int64_t batch) {
    JitModel::Call c;
    c.images = images;
    c.batch = (int)batch;
    if (reference) {
        c.reference = reference->values.data();
        c.reference_labels = reference->labels.data();
        c.reference_count = (int)reference->count;
    }
    return c;
}

}  // namespace

runtime::Status JitNeighbors::features(const float *images, int64_t batch, float *features) {
    JitModel::Call c = knn_call(nullptr, images, batch);
    c.features = features;
    return refused_as_status([&] { jit_.run("features", c); });
}

runtime::Status JitNeighbors::classify(const runtime::ReferenceSet &reference, const float *images,
                                       int64_t batch, float *probs) {
    JitModel::Call c = knn_call(&reference, images, batch);
    c.probs = probs;
    return refused_as_status([&] { jit_.run("classify", c); });
}

runtime::Status JitNeighbors::neighbors(const runtime::ReferenceSet &reference, const float *images,
                                        int64_t batch, int32_t *indices, float *distances) {
    JitModel::Call c = knn_call(&reference, images, batch);
    c.neighbors = indices;
    c.distances = distances;
    return refused_as_status([&] { jit_.run("neighbors", c); });
}

runtime::KnnConfig knn_config(const Graph &graph) {
    runtime::KnnConfig c;
    c.batch = graph.train.batch;
    c.seed = graph.train.seed;
    c.validation = graph.train.validation;
    return c;
}

runtime::TrainBlock train_block(const Graph &graph) {
    const TrainSettings &t = graph.train;
    runtime::TrainBlock block;
    block.batch = t.batch;
    block.epochs = t.epochs;
    block.seed = t.seed;
    block.validation = t.validation;
    for (const Choice &choice : t.augment) {
        block.augment.push_back({choice.name, choice_numbers(ChoiceKind::Augmentation, choice)});
    }
    if (t.early_stopping) {
        block.patience = t.early_stopping->attrs.get_int("patience");
        block.min_delta = t.early_stopping->attrs.get_float("min_delta");
    }
    return block;
}

runtime::TrainConfig train_config(const Graph &graph) {
    return runtime::train_config(train_block(graph));
}

}  // namespace netc
