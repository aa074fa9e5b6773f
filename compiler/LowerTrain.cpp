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

bool updated_by_step(const Graph &g, const ParamEntry &e) {
    return !e.trainable() || g.param_grads.count(e.name) != 0;
}

Expr arena_index(const ParamEntry &e, const std::vector<Expr> &r) {
    int rank = e.shape.rank();
    Expr flat = 0;
    for (int j = 0; j < rank; j++) flat = flat * (int)e.shape.dims[j] + r[rank - 1 - j];
    return (int)e.offset + flat;
}

namespace {

/// The domain of one tensor's elements, innermost (last torch dimension) first.
RDom tensor_domain(const ParamEntry &e, const std::string &prefix) {
    Region extents;
    for (int j = e.shape.rank() - 1; j >= 0; j--) extents.push_back({0, (int)e.shape.dims[j]});
    std::string name = prefix + "_" + e.name;
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

/// The statistic of this batch that a batchnorm buffer averages: the mean, or the unbiased
/// variance, of channel `channel`.
Expr batch_statistic(const Graph &graph, const Forward &lowered, const ParamEntry &e,
                     const Expr &channel, const Expr &batch) {
    const Node &node = graph.nodes[e.node];
    const OpLowering &l = lowered.values[e.node];
    if (e.suffix == "running_mean") return l.saved.at("mean")(channel);
    internal_assert(e.suffix == "running_var");
    const Shape &s = node.shape;
    Expr count = cast<float>(s.rank() == 3 ? batch * (int)(s.dims[1] * s.dims[2]) : batch);
    return l.saved.at("var")(channel) * count / max(count - 1.0f, 1.0f);
}

}  // namespace

GradientFuncs lower_gradient(const Graph &g, const ParamLayout &layout, const Func &params,
                             const Func &images, const Func &labels, const Expr &batch,
                             const Expr &sample_offset, const Expr &step, const Expr &total_steps) {
    internal_assert(g.has_backward());
    GradientFuncs f;
    // Dropout masks: a stream per step of the run's seed, so a step is reproducible, indexed by
    // the global sample index (sample_offset + n), so a shard draws what one process would.
    uint64_t seed = g.train.seed;
    Expr rng_key =
        random_key(Expr((uint32_t)seed), Expr((uint32_t)(seed >> 32)), cast<uint32_t>(step));
    f.graph = lower_forward(g, layout, Mode::Train, params, images, batch, rng_key, labels,
                            sample_offset);

    Var i("i"), k("k");
    Func lr("learning_rate");
    lr() = learning_rate(g.train, step, total_steps);

    // Losses: the batch mean of the data loss, and the regularization, reported apart.
    Func sample_loss = lower_loss(g, f.graph.logits, labels);
    RDom rn(0, batch, "loss_n");
    Func data_loss("data_loss"), reg_loss("reg_loss");
    data_loss() = sum(sample_loss(rn)) / cast<float>(batch);
    reg_loss() = 0.0f;
    for (const ParamEntry &e : layout.entries) {
        RegCoefficients reg = regularization_of(g, e);
        if (reg.l1 > 0 || reg.l2 > 0) {
            RDom rr = tensor_domain(e, "reg");
            Expr wr = params(arena_index(e, rvars_of(rr)));
            reg_loss() += (float)reg.l1 * abs(wr) + (float)reg.l2 * wr * wr;
        }
    }
    f.losses = Func("losses");
    f.losses(k) = select(k == 0, data_loss(), k == 1, reg_loss(), lr());
    f.stages = {{"sample_loss", sample_loss},
                {"data_loss", data_loss},
                {"reg_loss", reg_loss},
                {"learning_rate", lr}};

    f.params = params;
    f.batch = batch;
    f.gradient = Func("gradient");
    f.gradient(i) = 0.0f;
    for (const ParamEntry &e : layout.entries) {
        if (!updated_by_step(g, e)) {
            f.ranges.emplace_back();  // the loss does not depend on it: its gradient is 0
            continue;
        }
        RDom r = tensor_domain(e, "grad");
        f.ranges.push_back(r);
        f.gradient(arena_index(e, rvars_of(r))) = f.at(g, e, rvars_of(r));
    }
    return f;
}

Expr GradientFuncs::at(const Graph &g, const ParamEntry &e, const std::vector<Expr> &r) const {
    if (!e.trainable()) return batch_statistic(g, graph, e, r[0], batch);
    Expr grad = graph.values[g.param_grads.at(e.name)].out(r);
    RegCoefficients reg = regularization_of(g, e);
    Expr w = Func(params)(arena_index(e, r));
    if (reg.l1 > 0) grad += (float)reg.l1 * select(w > 0.0f, 1.0f, select(w < 0.0f, -1.0f, 0.0f));
    if (reg.l2 > 0) grad += (float)(2 * reg.l2) * w;
    return grad;
}

UpdateFuncs lower_update(const Graph &g, const ParamLayout &layout, const Func &params,
                         const std::vector<Func> &state, const GradientAt &grad, const Expr &lr,
                         const Expr &step) {
    UpdateFuncs f;
    Var i("i");
    f.update = Func("update");
    std::vector<Expr> keep = {Func(params)(i)};
    for (const Func &s : state) keep.push_back(Func(s)(i));
    define(f.update, {i}, keep);
    for (const ParamEntry &e : layout.entries) {
        if (!updated_by_step(g, e)) {
            f.ranges.emplace_back();  // a tensor the loss does not depend on stays as it is
            continue;
        }
        RDom r = tensor_domain(e, "update");
        f.ranges.push_back(r);
        std::vector<Expr> at = rvars_of(r);
        Expr index = arena_index(e, at);
        Expr w = Func(params)(index);
        std::vector<Expr> slots;
        for (const Func &s : state) slots.push_back(Func(s)(index));
        std::vector<Expr> updated;
        if (!e.trainable()) {
            // running = (1 - momentum) * running + momentum * batch statistic
            float momentum = (float)g.nodes[e.node].attrs.get_float("momentum");
            updated.push_back((1.0f - momentum) * w + momentum * grad(e, at));
            updated.insert(updated.end(), slots.begin(), slots.end());
        } else {
            OptimizerUpdate u =
                optimizer_update(g.train.optimizer, w, grad(e, at), slots, lr, step);
            updated.push_back(u.w);
            updated.insert(updated.end(), u.state.begin(), u.state.end());
        }
        define(f.update, {index}, updated);
    }
    return f;
}

}  // namespace netc
