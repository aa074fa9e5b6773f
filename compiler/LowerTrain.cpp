#include "compiler/LowerTrain.h"

#include "compiler/Optimizer.h"
#include "compiler/Random.h"
#include "dsl/Error.h"

#include <algorithm>

namespace netc {

using namespace Halide;

Expr arena_index(const ParamEntry &e, const std::vector<Expr> &r) {
    int rank = e.shape.rank();
    Expr flat = 0;
    for (int j = 0; j < rank; j++) flat = flat * (int)e.shape.dims[j] + r[rank - 1 - j];
    return (int)e.offset + flat;
}

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

namespace {

void define(Func &f, const std::vector<Expr> &at, const std::vector<Expr> &values) {
    if (values.size() == 1) {
        f(at) = values[0];
    } else {
        f(at) = Tuple(values);
    }
}

}  // namespace

GradientFuncs lower_gradient(const Graph &g, const ParamLayout &layout, const Func &params,
                             const Func &images, const Func &labels, const Expr &batch,
                             const Expr &sample_offset, const Expr &step, const Expr &total_steps) {
    internal_assert(g.has_training());
    GradientFuncs f;
    // Dropout masks: a stream per step of the run's seed, so a step is reproducible, indexed by
    // the global sample index (sample_offset + n), so a shard draws what one process would.
    uint64_t seed = g.train.seed;
    Expr rng_key =
        random_key(Expr((uint32_t)seed), Expr((uint32_t)(seed >> 32)), cast<uint32_t>(step));
    f.graph = lower_forward(g, layout, Mode::Train, params, images, batch, rng_key,
                            {labels, sample_offset, step, total_steps});

    // Losses: the batch mean of the data loss, and the regularization, reported apart.
    Var i("i"), k("k");
    Expr reg = g.reg_loss >= 0 ? f.graph.values[g.reg_loss].out() : Expr(0.0f);
    f.losses = Func("losses");
    f.losses(k) = select(k == 0, f.graph.values[g.data_loss].out(), k == 1, reg,
                         f.graph.values[g.learning_rate].out());

    f.params = params;
    f.gradient = Func("gradient");
    f.gradient(i) = 0.0f;
    for (const ParamEntry &e : layout.entries) {
        if (!g.updates.count(e.name)) {
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
    // What the tensor's update reads: its gradient with regularization, or a buffer's statistic.
    const Node &update = g.nodes[g.updates.at(e.name)];
    return graph.values[update.inputs[0]].out(r);
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
        if (!g.updates.count(e.name)) {
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
