#include "tools/netc/JitTrainable.h"

#include "compiler/Optimizer.h"
#include "compiler/Settings.h"

#include <cstdint>
#include <stdexcept>

namespace netc {

JitTrainable::JitTrainable(const Graph &graph, const ParamLayout &layout, Strategy strategy)
    : jit_(graph, layout, default_jit_target(), strategy) {
    info_.name = graph.model;
    const std::vector<int64_t> &in = graph.input.dims;
    info_.data.channels = in.size() == 3 ? (int)in[0] : 1;
    info_.data.height = in.size() == 3 ? (int)in[1] : (int)(in.size() == 2 ? in[0] : 1);
    info_.data.width = (int)(in.empty() ? 1 : in.back());
    info_.data.classes = (int)graph.classes;
    for (const ParamEntry &e : layout.entries) {
        info_.tensors.push_back({e.name, e.shape.dims, e.offset, e.trainable()});
    }
    info_.optimizer = graph.train.optimizer.name;
    info_.optimizer_slots = optimizer_slot_names(graph.train.optimizer);
}

runtime::Status JitTrainable::predict(const float *params, const float *images, int64_t batch,
                                      float *probs) {
    jit_.predict(params, images, (int)batch, probs);
    return {};
}

namespace {

/// Runs `call`, turning the JIT's refusal of a bad argument into a Status naming the step.
template <typename Call> runtime::Status at_step(int64_t step, Call call) {
    try {
        call();
    } catch (const std::invalid_argument &e) {
        return runtime::Status::error(std::string("step ") + std::to_string(step) + ": " +
                                      e.what());
    }
    return {};
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

runtime::TrainConfig train_config(const Graph &graph) {
    const TrainSettings &t = graph.train;
    runtime::TrainConfig c;
    c.batch = t.batch;
    c.epochs = t.epochs;
    c.seed = t.seed;
    c.validation = t.validation;
    for (const Choice &choice : t.augment) {
        runtime::AugmentSpec spec{choice.name, {}};
        for (const AttrSpec &a : choice_spec(ChoiceKind::Augmentation, choice.name).attrs) {
            if (choice.attrs.has(a.name))
                spec.params.push_back({a.name, choice.attrs.get_float(a.name)});
        }
        c.augment.push_back(std::move(spec));
    }
    if (t.early_stopping) {
        c.patience = t.early_stopping->attrs.get_int("patience");
        c.min_delta = t.early_stopping->attrs.get_float("min_delta");
    }
    return c;
}

}  // namespace netc
