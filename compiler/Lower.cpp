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

// db[c] = sum_{n, x, y} dy(c, x, y, n). On an image the sum goes by rows first: rows(cx, n) sums
// each sample's rows of C*W values (cx = c + C*x, contiguous whatever C is), then the C*W sums of
// every sample fold into the channels.
OpLowering lower_bias_grad(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.input_shape(0);
    Func out(ctx.node.name);
    out(d.i0) = 0.0f;
    if (s.rank() != 3) {
        RDom r(0, ctx.batch, ctx.name("r"));
        out(d.i0) += ctx.inputs[0](d.i0, r);
        return {out, {}, {}, {{"r", r}}};
    }
    const int channels = (int)s.dims[0], w = (int)s.dims[2];
    Var cx("cx");
    RDom ry(0, (int)s.dims[1], ctx.name("ry"));
    Func rows(ctx.name("rows"));
    rows(cx, d.n) = 0.0f;
    rows(cx, d.n) += ctx.inputs[0](cx % channels, cx / channels, ry, d.n);
    RDom r(0, w, 0, ctx.batch, ctx.name("r"));
    out(d.i0) += rows(d.i0 + channels * r.x, r.y);
    return {out, {{"rows", rows}}, {}, {{"r", r}, {"ry", ry}}};
}

// The rows' sums in parallel over the samples, vectors along the rows; measured on LeNet-5's
// first layer (6 channels of 28x28, batch 64, 2-core Zen 5): 0.30 ms on one thread before, in
// vectors of 6 channels strided by the pixels.
void schedule_bias_grad(const ScheduleCtx &ctx, const Node &, OpLowering &l) {
    const Dims &d = dims();
    const RDom &r = l.reduction("r");
    std::vector<VarOrRVar> order = {d.i0};
    for (int k = 0; k < r.dimensions(); k++) order.push_back(r[k]);
    l.out.compute_root().vectorize(d.i0, ctx.vector_width, TailStrategy::GuardWithIf);
    l.out.update().reorder(order).vectorize(d.i0, ctx.vector_width, TailStrategy::GuardWithIf);
    if (!l.has_stage("rows")) return;
    Func rows = l.stage("rows");
    Var cx = rows.args()[0];
    rows.compute_root().vectorize(cx, ctx.vector_width, TailStrategy::GuardWithIf).parallel(d.n);
    rows.update()
        .reorder(cx, l.reduction("ry").x, d.n)
        .vectorize(cx, ctx.vector_width, TailStrategy::GuardWithIf)
        .parallel(d.n);
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
    if (ctx.users_read_once && !ctx.is_output) return;  // inline
    schedule_root(ctx, lowered.out, node.shape);
}

void schedule_root(const ScheduleCtx &ctx, Func f, const Shape &shape) {
    const Dims &d = dims();
    f.compute_root();
    int width = ctx.vector_width;
    if (shape.dims[0] >= width) {
        f.vectorize(d.c, width, TailStrategy::GuardWithIf);
    } else if (shape.rank() == 3 && shape.dims[0] * shape.dims[2] >= width) {
        // Few channels (an image's 1 or 3, LeNet's 6): vectors along a row's C*W values, which
        // are contiguous, channels and pixels alike. Measured on LeNet-5 (2-core Zen 5,
        // AVX-512): the tanh after its 6-channel conv took 4.3 ms of a 13 ms predict at batch 64
        // in scalar code; in vectors of pixels strided by the channels (gathers) 0.4-0.5 ms of
        // a 7 ms train step (with netc's vector tanh, in Halide's profiler); in these, and in
        // tasks of 16K values (below), 0.18 ms.
        Var cx("cx");
        f.fuse(d.c, d.x, cx).vectorize(cx, width, TailStrategy::GuardWithIf);
    }
    // Tasks of whole rows (or samples), at least 16K values each: a task per row of LeNet-5's
    // 28x28x6 activations (168 values) kept the pool's threads waking for each other, at 0.8-1.0
    // threads busy on average (2-core Zen 5).
    const int64_t row = shape.rank() == 3 ? shape.dims[0] * shape.dims[2] : shape.dims[0];
    const int rows_per_task = (int)std::max<int64_t>(1, 16384 / std::max<int64_t>(row, 1));
    Var rows("rows"), task("task");
    if (shape.rank() == 3) {
        f.fuse(d.y, d.n, rows);
    } else {
        rows = d.n;
    }
    f.split(rows, task, rows, rows_per_task, TailStrategy::GuardWithIf).parallel(task);
}

// Blocks of samples of at least 16K values a task, as schedule_root's. Measured on
// examples/fashion_cnn (2-core Zen 5, Halide's profiler, batch 64): its second batchnorm's sum on
// one thread 0.35 ms, in blocks 0.14 ms; the train step's change is within this machine's noise.
void schedule_channel_sum(const ScheduleCtx &ctx, Func f, const RDom &r, int64_t per_sample) {
    const Dims &d = dims();
    const int width = ctx.vector_width;
    const int last = r.dimensions() - 1;
    const int per_task = (int)std::max<int64_t>(1, 16384 / std::max<int64_t>(per_sample, 1));
    f.compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf);
    RVar blocks("blocks"), samples("samples");
    Var block("block");
    f.update().split(r[last], blocks, samples, per_task, TailStrategy::GuardWithIf);
    Func partial = f.update().rfactor(blocks, block);
    Var c = partial.args()[0];
    std::vector<VarOrRVar> order = {c};
    for (int k = 0; k < last; k++) order.push_back(r[k]);
    order.push_back(samples);
    order.push_back(block);
    partial.compute_root().vectorize(c, width, TailStrategy::GuardWithIf).parallel(block);
    partial.update().reorder(order).vectorize(c, width, TailStrategy::GuardWithIf).parallel(block);
    f.update().vectorize(d.c, width, TailStrategy::GuardWithIf);
}

// |x| < 1/4: the Taylor series to x^9, whose next term is below 1e-8 of x there; beyond, with
// e = exp(-2|x|), (1 - e) / (1 + e), where 1 - e cancels at most 1.5 bits and e underflows to 0
// (tanh 1) with nothing to overflow. The sign is put back at the end. (Halide compiles floats with
// fast-math flags, so NaN is not promised to survive this or any other op.)
Expr vector_tanh(const Halide::Expr &x) {
    Expr a = abs(x), x2 = x * x;
    Expr series =
        a *
        (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835)))));
    Expr e = exp(-2.0f * a);
    Expr t = select(a < 0.25f, series, (1.0f - e) / (1.0f + e));
    return select(x < 0.0f, -t, t);
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
