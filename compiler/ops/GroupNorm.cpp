// groupnorm: normalizes each sample over groups of channels (and their pixels), then scales and
// shifts per channel (torch.nn.GroupNorm).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> groupnorm_shape(const Node &node, const std::vector<Shape> &in,
                                     std::string &error) {
    int64_t groups = node.attrs.get_int("groups");
    if (channels_of(in[0]) % groups != 0) {
        error = "groups=" + std::to_string(groups) + " does not divide the " +
                std::to_string(channels_of(in[0])) + " channels of the input " + in[0].str();
        return std::nullopt;
    }
    return in[0];
}

std::vector<ParamSpec> groupnorm_params(const Node &node, const std::vector<Shape> &in) {
    Shape c{{channels_of(in[0])}};
    std::vector<ParamSpec> p;
    if (node.attrs.get_bool("affine")) {
        p.push_back({"weight", c, {Initializer::Kind::Ones, 0}, ParamRole::Norm});
        p.push_back({"bias", c, {Initializer::Kind::Zeros, 0}, ParamRole::Norm});
    }
    return p;
}

// y = (x - mean_{g,n}) / sqrt(var_{g,n} + eps) * w_c + b_c, g = c / (C / groups)
OpLowering lower_groupnorm(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.node.shape;
    bool image = s.rank() == 3;
    int group_size = (int)(s.dims[0] / ctx.attr_int("groups"));
    int h = image ? (int)s.dims[1] : 1, w = image ? (int)s.dims[2] : 1;
    const Func &in = ctx.inputs[0];
    Var g("g");
    RDom r(0, group_size, 0, w, 0, h, ctx.name("r"));
    auto at = [&](Expr g, Expr n) {
        Expr c = g * group_size + r.x;
        return image ? in(c, r.y, r.z, n) : in(c, n);
    };
    float count = (float)(group_size * h * w);
    Func mean(ctx.name("mean")), var(ctx.name("var")), inv_std(ctx.name("inv_std"));
    mean(g, d.n) = sum(at(g, d.n)) / count;
    var(g, d.n) = sum((at(g, d.n) - mean(g, d.n)) * (at(g, d.n) - mean(g, d.n))) / count;
    inv_std(g, d.n) = 1.0f / sqrt(var(g, d.n) + (float)ctx.attr_float("eps"));
    bool affine = ctx.has_param("weight");
    OpLowering l = lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &v) {
        Expr group = v[0] / group_size, n = v.back();
        Expr normalized = (x - mean(group, n)) * inv_std(group, n);
        if (!affine) return normalized;
        return normalized * ctx.param("weight", {v[0]}) + ctx.param("bias", {v[0]});
    });
    l.stages = {{"mean", mean}, {"var", var}, {"inv_std", inv_std}};
    l.saved = {{"mean", mean}, {"inv_std", inv_std}};
    l.reductions = {{"r", r}};
    return l;
}

void schedule_groupnorm(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    for (const auto &[name, f] : l.stages) Func(f).compute_root().parallel(dims().n);
    schedule_elementwise(ctx, node, l);
}

/// The normalized input xhat = (x - mean_{g,n}) * inv_std_{g,n} at value coordinates v.
Expr groupnorm_xhat(const LowerCtx &ctx, const Func &x, const std::vector<Expr> &v) {
    const Node &layer = ctx.forward_node();
    int group_size = (int)(layer.shape.dims[0] / layer.attrs.get_int("groups"));
    Expr g = v[0] / group_size, n = v.back();
    return (x(v) - ctx.saved("mean")(g, n)) * ctx.saved("inv_std")(g, n);
}

// dL/dx = inv_std / M * (M g - sum(g) - xhat * sum(g * xhat)), g = dy * w_c, sums over the group
OpLowering lower_groupnorm_grad_input(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.node.shape;
    bool image = s.rank() == 3;
    int group_size = (int)(s.dims[0] / ctx.attr_int("groups"));
    int h = image ? (int)s.dims[1] : 1, w = image ? (int)s.dims[2] : 1;
    const Func &dy = ctx.inputs[0], &x = ctx.inputs[1];
    bool affine = ctx.has_param("weight");
    auto g = [&](const std::vector<Expr> &v) {
        return affine ? dy(v) * ctx.param("weight", {v[0]}) : dy(v);
    };
    auto g_xhat = [&](const std::vector<Expr> &v) { return g(v) * groupnorm_xhat(ctx, x, v); };
    // Per-channel partial sums over the pixels, whole channel vectors at a time, then the
    // sums over each group's channels.
    Func part(ctx.name("part")), part_xhat(ctx.name("part_xhat"));
    Func total(ctx.name("total")), total_xhat(ctx.name("total_xhat"));
    OpLowering l;
    if (image) {
        RDom r(0, w, 0, h, ctx.name("r"));
        std::vector<Expr> at = {d.c, r.x, r.y, d.n};
        part(d.c, d.n) = 0.0f;
        part(d.c, d.n) += g(at);
        part_xhat(d.c, d.n) = 0.0f;
        part_xhat(d.c, d.n) += g_xhat(at);
        l.stages = {{"part", part}, {"part_xhat", part_xhat}};  // inlined for vectors
        l.reductions = {{"r", r}};
    } else {
        part(d.c, d.n) = g({d.c, d.n});
        part_xhat(d.c, d.n) = g_xhat({d.c, d.n});
    }
    Var grp("g");
    RDom rk(0, group_size, ctx.name("rk"));
    total(grp, d.n) = sum(part(grp * group_size + rk, d.n));
    total_xhat(grp, d.n) = sum(part_xhat(grp * group_size + rk, d.n));
    l.stages.insert({{"total", total}, {"total_xhat", total_xhat}});
    float count = (float)(group_size * h * w);
    std::vector<Var> v = value_vars(s);
    std::vector<Expr> at(v.begin(), v.end());
    Expr group = d.c / group_size;
    Expr inv_std = ctx.saved("inv_std")(group, d.n);
    l.out = Func(ctx.node.name);
    l.out(v) =
        inv_std * (1.0f / count) *
        (count * g(at) - total(group, d.n) - groupnorm_xhat(ctx, x, at) * total_xhat(group, d.n));
    return l;
}

void schedule_groupnorm_grad_input(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    int width = ctx.vector_width;
    if (l.has_reduction("r")) {  // images: per-channel partial sums over the pixels
        const RDom &r = l.reduction("r");
        for (const char *name : {"part", "part_xhat"}) {
            Func part = l.stage(name);
            part.compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf).parallel(d.n);
            part.update()
                .reorder(d.c, r.x, r.y, d.n)
                .vectorize(d.c, width, TailStrategy::GuardWithIf)
                .parallel(d.n);
        }
    }
    for (const char *name : {"total", "total_xhat"}) l.stage(name).compute_root().parallel(d.n);
    schedule_root(ctx, l.out, node.shape);
}

// dL/dw[c] = sum over (n, y, x) of dy * xhat
OpLowering lower_groupnorm_grad_weight(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.forward_node().shape;
    bool image = s.rank() == 3;
    RDom r = image ? RDom(0, (int)s.dims[2], 0, (int)s.dims[1], 0, ctx.batch, ctx.name("r"))
                   : RDom(0, ctx.batch, ctx.name("r"));
    std::vector<Expr> at =
        image ? std::vector<Expr>{d.i0, r[0], r[1], r[2]} : std::vector<Expr>{d.i0, r[0]};
    Func out(ctx.node.name);
    out(d.i0) = 0.0f;
    out(d.i0) += ctx.inputs[0](at) * groupnorm_xhat(ctx, ctx.inputs[1], at);
    return {out, {}, {}, {{"r", r}}};
}

void schedule_groupnorm_grad_weight(const ScheduleCtx &ctx, const Node &, OpLowering &l) {
    const Dims &d = dims();
    const RDom &r = l.reduction("r");
    std::vector<VarOrRVar> order = {d.i0};
    for (int k = 0; k < r.dimensions(); k++) order.push_back(r[k]);
    l.out.compute_root().vectorize(d.i0, ctx.vector_width, TailStrategy::GuardWithIf);
    l.out.update().reorder(order).vectorize(d.i0, ctx.vector_width, TailStrategy::GuardWithIf);
}

const OpDef &op_groupnorm_grad_input() {
    static const OpDef def = {
        .name = "groupnorm_grad_input",
        .summary = "dL/dx of groupnorm",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .lower = lower_groupnorm_grad_input,
        .schedule = schedule_groupnorm_grad_input,
        .flops = per_element_flops<6>,
    };
    return def;
}

const OpDef &op_groupnorm_grad_weight() {
    static const OpDef def = {
        .name = "groupnorm_grad_weight",
        .summary = "dL/dw of groupnorm: sum of dy * xhat per channel",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .lower = lower_groupnorm_grad_weight,
        .schedule = schedule_groupnorm_grad_weight,
        .flops = per_input_element_flops<2>,
    };
    return def;
}

// y = xhat * w_c + b_c, statistics per (sample, group):  dw = sum dy xhat,  db = sum dy,  dx above
void backward_groupnorm(BackwardCtx &ctx) {
    if (ctx.needs_input_grad()) {
        ctx.set_input_grad(
            0, ctx.emit(op_groupnorm_grad_input(), {ctx.dy(), ctx.x()}, ctx.x_shape(), "input"));
    }
    if (ctx.node().attrs.get_bool("affine")) {
        ctx.emit_param_grad(op_groupnorm_grad_weight(), {ctx.dy(), ctx.x()}, "weight");
        ctx.emit_param_grad(op_bias_grad(), {ctx.dy()}, "bias");
    }
}

// each group of channels as a row normalized (onnx_normalize_rows), then * w + b, w and b [C] as
// torch has them, Reshaped to [C, 1, 1] on an image
void onnx_groupnorm(OnnxCtx &ctx) {
    const Shape &in = ctx.x_shape();
    std::string normalized = onnx_normalize_rows(ctx, ctx.node().attrs.get_int("groups"));
    if (!ctx.node().attrs.get_bool("affine")) return;
    std::string w = ctx.param("weight"), b = ctx.param("bias");
    if (in.rank() == 3) {
        std::string per_channel = ctx.constant_ints("channel_shape", {in.dims[0], 1, 1}, {3});
        w = ctx.emit("Reshape", {w, per_channel}, {}, "weight");
        b = ctx.emit("Reshape", {b, per_channel}, {}, "bias");
    }
    std::string scaled = ctx.emit("Mul", {normalized, w}, {}, "scaled");
    ctx.emit("Add", {scaled, b});
}

// each group of channels normalized (mlir_normalize_groups), then * w + b, w and b [C] as torch
// has them, reshaped to broadcast over the channels
void mlir_groupnorm(MlirCtx &ctx) {
    MlirValue normalized = mlir_normalize_groups(ctx, ctx.node().attrs.get_int("groups"));
    if (!ctx.node().attrs.get_bool("affine")) return;
    MlirValue w = mlir_per_channel(ctx, ctx.param("weight"), ctx.x(), "weight_c");
    MlirValue b = mlir_per_channel(ctx, ctx.param("bias"), ctx.x(), "bias_c");
    mlir_elementwise(ctx, "tosa.add", {mlir_mul(ctx, normalized, w, "scaled"), b});
}

}  // namespace

const OpDef &op_groupnorm() {
    static const OpDef def = {
        .name = "groupnorm",
        .summary = "per-sample normalization over groups of channels",
        .attrs =
            {
                required_int_attr("groups", Range::at_least(1), "number of channel groups"),
                float_attr("eps", 1e-5, Range::above(0), "added to the variance"),
                bool_attr("affine", true, "learn a per-channel scale (weight) and shift (bias)"),
            },
        .infer_shape = groupnorm_shape,
        .params = groupnorm_params,
        .lower = lower_groupnorm,
        .schedule = schedule_groupnorm,
        .backward = backward_groupnorm,
        .flops = per_element_flops<5>,
        .onnx = onnx_groupnorm,
        .mlir = mlir_groupnorm,
    };
    return def;
}

}  // namespace netc
