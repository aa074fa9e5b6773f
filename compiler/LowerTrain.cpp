#include "compiler/LowerTrain.h"

#include "compiler/Loss.h"
#include "compiler/LrSchedule.h"
#include "compiler/Optimizer.h"
#include "compiler/Random.h"
#include "dsl/Error.h"

#include <algorithm>

namespace netc {

using namespace Halide;

RegCoefficients regularization_of(const Graph &graph, const ParamEntry &entry) {
    if (!graph.regularizer || !entry.trainable()) return {};
    const Choice &reg = *graph.regularizer;
    const Node &node = graph.nodes[entry.node];
    bool applies = entry.role == ParamRole::Weight ||
                   (entry.role == ParamRole::Bias && reg.attrs.get_bool("biases")) ||
                   ((entry.role == ParamRole::Norm || entry.role == ParamRole::Slope) &&
                    reg.attrs.get_bool("norms"));
    if (!applies) return {};
    double strength = node.attrs.has("regularize") ? node.attrs.get_float("regularize")
                                                   : reg.attrs.get_float("strength");
    if (reg.name == "l2") return {0, strength};
    if (reg.name == "l1") return {strength, 0};
    internal_assert(reg.name == "elastic_net");
    double ratio = reg.attrs.get_float("l1_ratio");
    return {strength * ratio, strength * (1 - ratio)};
}

namespace {

/// The arena index of the element of `e` at the reversed-torch-order position `r`.
Expr arena_index(const ParamEntry &e, const RDom &r) {
    int rank = e.shape.rank();
    Expr flat = 0;
    for (int j = 0; j < rank; j++) flat = flat * (int)e.shape.dims[j] + r[rank - 1 - j];
    return (int)e.offset + flat;
}

RDom tensor_domain(const ParamEntry &e) {
    Region extents;
    for (int j = e.shape.rank() - 1; j >= 0; j--) extents.push_back({0, (int)e.shape.dims[j]});
    std::string name = "update_" + e.name;
    std::replace(name.begin(), name.end(), '.', '_');
    return RDom(extents, name);
}

std::vector<Expr> rvars_of(const RDom &r) {
    std::vector<Expr> out;
    for (int k = 0; k < r.dimensions(); k++) out.push_back(r[k]);
    return out;
}

void define(Func &f, const std::vector<Expr> &at, const std::vector<Expr> &values) {
    if (values.size() == 1) {
        f(at) = values[0];
    } else {
        f(at) = Tuple(values);
    }
}

/// running = (1 - momentum) * running + momentum * batch statistic (unbiased for the variance)
Expr running_stat(const Graph &graph, const Forward &lowered, const ParamEntry &e, const Expr &old,
                  const Expr &channel, const Expr &batch) {
    const Node &node = graph.nodes[e.node];
    float momentum = (float)node.attrs.get_float("momentum");
    const OpLowering &l = lowered.values[e.node];
    Expr stat;
    if (e.suffix == "running_mean") {
        stat = l.saved.at("mean")(channel);
    } else {
        internal_assert(e.suffix == "running_var");
        const Shape &s = node.shape;
        Expr count = cast<float>(s.rank() == 3 ? batch * (int)(s.dims[1] * s.dims[2]) : batch);
        stat = l.saved.at("var")(channel) * count / max(count - 1.0f, 1.0f);
    }
    return (1.0f - momentum) * old + momentum * stat;
}

}  // namespace

TrainStepFuncs lower_train_step(const Graph &g, const ParamLayout &layout, const Func &params,
                                const std::vector<Func> &state, const Func &images,
                                const Func &labels, const Expr &batch, const Expr &step,
                                const Expr &total_steps) {
    internal_assert(g.has_backward());
    TrainStepFuncs f;
    // Dropout masks: a stream per step of the run's seed, so a step is reproducible.
    uint64_t seed = g.train.seed;
    Expr rng_key =
        random_key(Expr((uint32_t)seed), Expr((uint32_t)(seed >> 32)), cast<uint32_t>(step));
    f.graph = lower_forward(g, layout, Mode::Train, params, images, batch, rng_key, labels);

    Var i("i"), k("k");
    Expr lr = learning_rate(g.train, step, total_steps);
    Func lr_func("learning_rate");
    lr_func() = lr;

    // Losses: the batch mean of the data loss, and the regularization, reported apart.
    Func sample_loss = lower_loss(g, f.graph.logits, labels);
    RDom rn(0, batch, "loss_n");
    Func data_loss("data_loss"), reg_loss("reg_loss");
    data_loss() = sum(sample_loss(rn)) / cast<float>(batch);
    reg_loss() = 0.0f;
    for (const ParamEntry &e : layout.entries) {
        RegCoefficients reg = regularization_of(g, e);
        if (reg.l1 > 0 || reg.l2 > 0) {
            RDom rr = tensor_domain(e);
            Expr wr = params(arena_index(e, rr));
            reg_loss() += (float)reg.l1 * abs(wr) + (float)reg.l2 * wr * wr;
        }
    }
    f.losses = Func("losses");
    f.losses(k) = select(k == 0, data_loss(), k == 1, reg_loss(), lr_func());
    // The update takes its rate from `losses`, so the losses are computed before the update
    // overwrites the arena in place: the regularization reported is that of the weights the
    // step started from.
    Expr step_lr = f.losses(2);

    f.update = Func("update");
    f.gradient = Func("gradient");
    f.gradient(i) = 0.0f;
    std::vector<Expr> keep = {params(i)};
    for (const Func &s : state) keep.push_back(s(i));
    define(f.update, {i}, keep);
    for (const ParamEntry &e : layout.entries) {
        RegCoefficients reg = regularization_of(g, e);
        auto grad_it = g.param_grads.find(e.name);
        bool has_grad = grad_it != g.param_grads.end();
        if (e.trainable() && !has_grad) {
            f.ranges.emplace_back();  // a tensor the loss does not depend on stays as it is
            continue;
        }
        RDom r = tensor_domain(e);
        f.ranges.push_back(r);
        Expr index = arena_index(e, r);
        Expr w = params(index);
        std::vector<Expr> updated;
        if (!e.trainable()) {
            Expr channel = r[0];  // running statistics are [C]
            updated.push_back(running_stat(g, f.graph, e, w, channel, batch));
            for (const Func &s : state) updated.push_back(s(index));
        } else {
            Expr grad = f.graph.values[grad_it->second].out(rvars_of(r));
            if (reg.l1 > 0)
                grad += (float)reg.l1 * select(w > 0.0f, 1.0f, select(w < 0.0f, -1.0f, 0.0f));
            if (reg.l2 > 0) grad += (float)(2 * reg.l2) * w;
            f.gradient(index) = grad;
            std::vector<Expr> slots;
            for (const Func &s : state) slots.push_back(s(index));
            OptimizerUpdate u = optimizer_update(g.train.optimizer, w, grad, slots, step_lr, step);
            updated.push_back(u.w);
            updated.insert(updated.end(), u.state.begin(), u.state.end());
        }
        define(f.update, {index}, updated);
    }
    f.reductions = {data_loss, reg_loss, sample_loss, lr_func};
    return f;
}

void schedule_train_step(const Graph &g, const ParamLayout &layout, TrainStepFuncs &f,
                         const Target &target) {
    schedule_forward(g, f.graph, target, {});
    for (Func r : f.reductions) r.compute_root();
    f.losses.compute_root();
    // Everything else is computed at root before the update runs; the update itself streams
    // once over each tensor.
    f.update.compute_root();
    int width = vector_width(target);
    int definition = 0;
    for (size_t k = 0; k < f.ranges.size(); k++) {
        if (!f.ranges[k].defined()) continue;
        definition++;
        const ParamEntry &e = layout.entries[k];
        if (e.shape.dims.back() >= width) {
            // Halide cannot see that offset + flat(r) is injective in r; it is (a row-major
            // index), and each element reads the arena only at its own index, so lanes never
            // touch each other's elements.
            f.update.update(definition - 1)
                .allow_race_conditions()
                .vectorize(f.ranges[k][0], width, TailStrategy::GuardWithIf);
        } else {
            f.update.update(definition - 1).unscheduled();
        }
    }
}

}  // namespace netc
