#include "compiler/Lower.h"

#include "compiler/Random.h"
#include "compiler/ops/Op.h"
#include "dsl/Error.h"

namespace netc {

using namespace Halide;

const Dims &dims() {
    static const Dims d;
    return d;
}

std::vector<Var> value_vars(const Shape &shape) {
    const Dims &d = dims();
    if (shape.rank() == 3) return {d.c, d.x, d.y, d.n};
    internal_assert(shape.rank() == 1);
    return {d.c, d.n};
}

LowerCtx::LowerCtx(const Graph &graph, const Node &node, const ParamLayout &layout, Mode mode,
                   std::vector<Func> inputs, Func params, Expr batch, Expr rng_key)
    : graph(graph), node(node), mode(mode), inputs(std::move(inputs)), batch(std::move(batch)),
      rng_key(std::move(rng_key)), layout_(layout), params_(std::move(params)) {}

const Shape &LowerCtx::input_shape(int i) const { return graph.nodes[node.inputs[i]].shape; }

bool LowerCtx::has_param(const std::string &suffix) const {
    return layout_.find(node.name + "." + suffix) != nullptr;
}

const ParamEntry &LowerCtx::param_entry(const std::string &suffix) const {
    const ParamEntry *e = layout_.find(node.name + "." + suffix);
    if (!e) internal_error("layer " + node.name + " has no parameter " + suffix);
    return *e;
}

Expr LowerCtx::param(const std::string &suffix, const std::vector<Expr> &index) const {
    const ParamEntry &e = param_entry(suffix);
    internal_assert((int)index.size() == e.shape.rank());
    Expr flat = 0;
    for (size_t i = 0; i < index.size(); i++) flat = flat * (int)e.shape.dims[i] + index[i];
    return params_((int)e.offset + flat);
}

Func pad_image(const Func &f, const Shape &shape, Expr value) {
    internal_assert(shape.rank() == 3);
    // Channels and batch are never out of range, so only x and y get a bounds check.
    Region bounds = {{Expr(), Expr()},
                     {0, (int)shape.dims[2]},
                     {0, (int)shape.dims[1]},
                     {Expr(), Expr()}};
    return BoundaryConditions::constant_exterior(f, value, bounds);
}

OpLowering lower_pointwise(const LowerCtx &ctx,
                           const std::function<Expr(Expr, const std::vector<Expr> &)> &fn) {
    std::vector<Var> v = value_vars(ctx.node.shape);
    std::vector<Expr> args(v.begin(), v.end());
    Func out(ctx.node.name);
    out(v) = fn(ctx.inputs[0](args), args);
    return {out, {}, {}, {}};
}

void schedule_elementwise(const ScheduleCtx &ctx, const Node &node, OpLowering &lowered) {
    if (ctx.only_elementwise_users && !ctx.is_output) return;  // inline
    schedule_root(ctx, lowered.out, node.shape);
}

void schedule_root(const ScheduleCtx &ctx, Func f, const Shape &shape) {
    const Dims &d = dims();
    f.compute_root();
    int width = ctx.vector_width;
    if (shape.dims[0] >= width) {
        f.vectorize(d.c, width, TailStrategy::GuardWithIf);
    }
    if (shape.rank() == 3) {
        Var yn("yn");
        f.fuse(d.y, d.n, yn).parallel(yn);
    } else {
        f.parallel(d.n);
    }
}

Expr mix32(Expr x) {
    x = x ^ (x >> 16);
    x = x * Internal::make_const(UInt(32), 0x7feb352dU);
    x = x ^ (x >> 15);
    x = x * Internal::make_const(UInt(32), 0x846ca68bU);
    x = x ^ (x >> 16);
    return x;
}

Expr random_bits(const Expr &key, const Expr &index) {
    Expr i = cast<uint32_t>(index);
    return mix32(i ^ mix32(cast<uint32_t>(key) + i));
}

Expr random_uniform(const Expr &key, const Expr &index) {
    return cast<float>(random_bits(key, index) >> 8) * (1.0f / 16777216.0f);
}

Expr random_key(const Expr &seed_lo, const Expr &seed_hi, const Expr &stream) {
    Expr lo = cast<uint32_t>(seed_lo), hi = cast<uint32_t>(seed_hi);
    return mix32(mix32(mix32(lo ^ Internal::make_const(UInt(32), 0x9e3779b9U)) ^ hi) ^
                 cast<uint32_t>(stream));
}

}  // namespace netc
