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

std::vector<Var> param_vars(const Shape &shape) {
    const Dims &d = dims();
    std::vector<Var> all = {d.i0, d.i1, d.i2, d.i3};
    internal_assert(shape.rank() >= 1 && shape.rank() <= 4);
    return std::vector<Var>(all.begin(), all.begin() + shape.rank());
}

LowerCtx::LowerCtx(const Graph &graph, const Node &node, const ParamLayout &layout, Mode mode,
                   std::vector<Func> inputs, Func params, Expr batch, Expr rng_key)
    : graph(graph), node(node), mode(mode), inputs(std::move(inputs)), batch(std::move(batch)),
      rng_key(std::move(rng_key)), layout_(layout), params_(std::move(params)) {}

const Shape &LowerCtx::input_shape(int i) const { return graph.nodes[node.inputs[i]].shape; }

const Node &LowerCtx::forward_node() const {
    return node.forward >= 0 ? graph.nodes[node.forward] : node;
}

Func LowerCtx::saved(const std::string &what) const {
    internal_assert(forward);
    auto it = forward->saved.find(what);
    if (it == forward->saved.end()) {
        internal_error("layer " + forward_node().name + " saved no '" + what + "'");
    }
    return it->second;
}

bool LowerCtx::has_param(const std::string &suffix) const {
    return layout_.find(forward_node().name + "." + suffix) != nullptr;
}

const ParamEntry &LowerCtx::param_entry(const std::string &suffix) const {
    const ParamEntry *e = layout_.find(forward_node().name + "." + suffix);
    if (!e) internal_error("layer " + forward_node().name + " has no parameter " + suffix);
    return *e;
}

Expr LowerCtx::param(const std::string &suffix, const std::vector<Expr> &index) const {
    const ParamEntry &e = param_entry(suffix);
    internal_assert((int)index.size() == e.shape.rank());
    Expr flat = 0;
    for (size_t i = 0; i < index.size(); i++) flat = flat * (int)e.shape.dims[i] + index[i];
    return params_((int)e.offset + flat);
}

Func OpLowering::stage(const std::string &name) const {
    auto it = stages.find(name);
    if (it == stages.end()) {
        internal_error("lowering of " + out.name() + " made no stage '" + name + "'");
    }
    return it->second;
}

const RDom &OpLowering::reduction(const std::string &name) const {
    auto it = reductions.find(name);
    if (it == reductions.end()) {
        internal_error("lowering of " + out.name() + " made no reduction '" + name + "'");
    }
    return it->second;
}

Func pad_image(const Func &f, const Shape &shape, Expr value) {
    internal_assert(shape.rank() == 3);
    // Channels and batch are never out of range, so only x and y get a bounds check.
    Region bounds = {
        {Expr(), Expr()}, {0, (int)shape.dims[2]}, {0, (int)shape.dims[1]}, {Expr(), Expr()}};
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

OpLowering lower_pointwise_grad(
    const LowerCtx &ctx,
    const std::function<Expr(Expr, Expr, Expr, const std::vector<Expr> &)> &fn) {
    std::vector<Var> v = value_vars(ctx.node.shape);
    std::vector<Expr> args(v.begin(), v.end());
    Func out(ctx.node.name);
    out(v) = fn(ctx.inputs[0](args), ctx.inputs[1](args), ctx.inputs[2](args), args);
    return {out, {}, {}, {}};
}

OpDef pointwise_grad_op(const char *name, LowerRule lower) {
    return OpDef{
        .name = name,
        .summary = "the gradient of an elementwise op",
        .min_inputs = 3,
        .max_inputs = 3,
        .user_visible = false,
        .elementwise = true,
        .lower = lower,
        .schedule = schedule_elementwise,
        .flops = per_element_flops<1>,
    };
}

namespace {

// db[c] = sum_{n, x, y} dy(c, x, y, n)
OpLowering lower_bias_grad(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.input_shape(0);
    bool image = s.rank() == 3;
    RDom r = image ? RDom(0, (int)s.dims[2], 0, (int)s.dims[1], 0, ctx.batch, ctx.name("r"))
                   : RDom(0, ctx.batch, ctx.name("r"));
    Func out(ctx.node.name);
    out(d.i0) = 0.0f;
    out(d.i0) += image ? ctx.inputs[0](d.i0, r[0], r[1], r[2]) : ctx.inputs[0](d.i0, r[0]);
    return {out, {}, {}, {{"r", r}}};
}

void schedule_bias_grad(const ScheduleCtx &ctx, const Node &, OpLowering &l) {
    const Dims &d = dims();
    const RDom &r = l.reduction("r");
    std::vector<VarOrRVar> order = {d.i0};
    for (int k = 0; k < r.dimensions(); k++) order.push_back(r[k]);
    l.out.compute_root().vectorize(d.i0, ctx.vector_width, TailStrategy::GuardWithIf);
    l.out.update().reorder(order).vectorize(d.i0, ctx.vector_width, TailStrategy::GuardWithIf);
}

}  // namespace

const OpDef &op_bias_grad() {
    static const OpDef def = {
        .name = "bias_grad",
        .summary = "sum of the upstream gradient per channel",
        .user_visible = false,
        .lower = lower_bias_grad,
        .schedule = schedule_bias_grad,
        .flops = per_input_element_flops<1>,
    };
    return def;
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
    } else if (shape.rank() == 3 && shape.dims[2] >= width / 2) {
        // Few channels (an image's 1 or 3, LeNet's 6): vectors of pixels along a row instead,
        // strided by the channels. Measured on LeNet-5's tanh after its 6-channel conv (2-core
        // Zen 5, AVX-512): 4.3 ms of a 13 ms predict at batch 64 in scalar code before.
        f.vectorize(d.x, width, TailStrategy::GuardWithIf);
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
