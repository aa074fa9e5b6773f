// batchnorm: normalizes each channel over the batch (and pixels), then scales and shifts
// (torch.nn.BatchNorm2d on CxHxW, BatchNorm1d on F). Running statistics follow
// running = (1 - momentum) * running + momentum * batch_statistic, as PyTorch does.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> batchnorm_shape(const Node &, const std::vector<Shape> &in,
                                     std::string &error) {
    if (in[0].rank() != 1 && in[0].rank() != 3) {
        error = "batchnorm expects CxHxW or F, got " + in[0].str();
        return std::nullopt;
    }
    return in[0];
}

std::vector<ParamSpec> batchnorm_params(const Node &node, const std::vector<Shape> &in) {
    Shape c{{channels_of(in[0])}};
    std::vector<ParamSpec> p;
    if (node.attrs.get_bool("affine")) {
        p.push_back({"weight", c, {Initializer::Kind::Ones, 0}, ParamRole::Norm});
        p.push_back({"bias", c, {Initializer::Kind::Zeros, 0}, ParamRole::Norm});
    }
    p.push_back({"running_mean", c, {Initializer::Kind::Zeros, 0}, ParamRole::Buffer});
    p.push_back({"running_var", c, {Initializer::Kind::Ones, 0}, ParamRole::Buffer});
    return p;
}

// train: y = (x - mean_c) / sqrt(var_c + eps) * w_c + b_c, mean and (biased) var over (n, y, x)
// infer: the same with running_mean and running_var
OpLowering lower_batchnorm(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.node.shape;
    float eps = (float)ctx.attr_float("eps");
    bool image = s.rank() == 3;
    const Func &in = ctx.inputs[0];
    OpLowering l;
    Func mean(ctx.name("mean")), var(ctx.name("var"));
    if (ctx.mode == Mode::Train) {
        RDom r = image ? RDom(0, (int)s.dims[2], 0, (int)s.dims[1], 0, ctx.batch, ctx.name("r"))
                       : RDom(0, ctx.batch, ctx.name("r"));
        auto at = [&](Expr c) { return image ? in(c, r[0], r[1], r[2]) : in(c, r[0]); };
        Expr count = cast<float>(image ? ctx.batch * (int)(s.dims[1] * s.dims[2]) : ctx.batch);
        Func sum_x(ctx.name("sum")), sum_sq(ctx.name("sum_sq"));
        sum_x(d.c) = 0.0f;
        sum_x(d.c) += at(d.c);
        mean(d.c) = sum_x(d.c) / count;
        // Two passes: the centred sum of squares does not cancel catastrophically.
        sum_sq(d.c) = 0.0f;
        sum_sq(d.c) += (at(d.c) - mean(d.c)) * (at(d.c) - mean(d.c));
        var(d.c) = sum_sq(d.c) / count;
        l.stages = {{"sum", sum_x}, {"mean", mean}, {"sum_sq", sum_sq}, {"var", var}};
        l.reductions = {{"r", r}};
    } else {
        mean(d.c) = ctx.param("running_mean", {d.c});
        var(d.c) = ctx.param("running_var", {d.c});
        l.stages = {{"mean", mean}, {"var", var}};
    }
    Func inv_std(ctx.name("inv_std")), scale(ctx.name("scale")), shift(ctx.name("shift"));
    inv_std(d.c) = 1.0f / sqrt(var(d.c) + eps);
    bool affine = ctx.has_param("weight");
    scale(d.c) = affine ? ctx.param("weight", {d.c}) * inv_std(d.c) : inv_std(d.c);
    shift(d.c) = (affine ? ctx.param("bias", {d.c}) : 0.0f) - mean(d.c) * scale(d.c);
    l.stages.insert({{"inv_std", inv_std}, {"scale", scale}, {"shift", shift}});
    l.saved = {{"mean", mean}, {"var", var}, {"inv_std", inv_std}};
    l.out = lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &v) {
                return x * scale(v[0]) + shift(v[0]);
            }).out;
    return l;
}

void schedule_batchnorm(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    if (l.has_reduction("r")) {  // training: batch statistics
        for (const char *name : {"sum", "sum_sq"}) {
            schedule_channel_sum(ctx, l.stage(name), l.reduction("r"), node.shape.elements());
        }
    }
    l.stage("scale").compute_root();
    l.stage("shift").compute_root();
    schedule_elementwise(ctx, node, l);
}

/// Per-channel sums over the batch and pixels of dy and of dy * xhat, xhat the normalized input.
struct GradSums {
    Func dy, dy_xhat;
    RDom r;
    Expr count;
};

GradSums grad_sums(const LowerCtx &ctx, const Func &dy, const Func &x) {
    const Dims &d = dims();
    const Shape &s = ctx.forward_node().shape;
    bool image = s.rank() == 3;
    RDom r = image ? RDom(0, (int)s.dims[2], 0, (int)s.dims[1], 0, ctx.batch, ctx.name("r"))
                   : RDom(0, ctx.batch, ctx.name("r"));
    auto at = [&](const Func &f) { return image ? f(d.c, r[0], r[1], r[2]) : f(d.c, r[0]); };
    Func mean = ctx.saved("mean"), inv_std = ctx.saved("inv_std");
    GradSums g{Func(ctx.name("sum_dy")), Func(ctx.name("sum_dy_xhat")), r,
               cast<float>(image ? ctx.batch * (int)(s.dims[1] * s.dims[2]) : ctx.batch)};
    g.dy(d.c) = 0.0f;
    g.dy(d.c) += at(dy);
    g.dy_xhat(d.c) = 0.0f;
    g.dy_xhat(d.c) += at(dy) * (at(x) - mean(d.c)) * inv_std(d.c);
    return g;
}

void schedule_grad_sums(const ScheduleCtx &ctx, const Node &node, const std::vector<Func> &sums,
                        const RDom &r) {
    for (Func f : sums) {
        schedule_channel_sum(ctx, f, r, ctx.graph.nodes[node.forward].shape.elements());
    }
}

// dL/dx = w * inv_std / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)), sums over (n, y, x)
OpLowering lower_batchnorm_grad_input(const LowerCtx &ctx) {
    GradSums g = grad_sums(ctx, ctx.inputs[0], ctx.inputs[1]);
    Func mean = ctx.saved("mean"), inv_std = ctx.saved("inv_std");
    bool affine = ctx.has_param("weight");
    OpLowering l = lower_pointwise(ctx, [&](Expr dy, const std::vector<Expr> &v) {
        Expr c = v[0];
        std::vector<Expr> args = v;
        Expr xhat = (ctx.inputs[1](args) - mean(c)) * inv_std(c);
        Expr scale = (affine ? ctx.param("weight", {c}) : 1.0f) * inv_std(c) / g.count;
        return scale * (g.count * dy - g.dy(c) - xhat * g.dy_xhat(c));
    });
    l.stages = {{"sum_dy", g.dy}, {"sum_dy_xhat", g.dy_xhat}};
    l.reductions = {{"r", g.r}};
    return l;
}

// dL/dw[c] = sum over (n, y, x) of dy * xhat
OpLowering lower_batchnorm_grad_weight(const LowerCtx &ctx) {
    GradSums g = grad_sums(ctx, ctx.inputs[0], ctx.inputs[1]);
    Func out(ctx.node.name);
    out(dims().i0) = g.dy_xhat(dims().i0);
    return {out, {{"sum_dy_xhat", g.dy_xhat}}, {}, {{"r", g.r}}};
}

void schedule_batchnorm_grad(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    std::vector<Func> sums;
    for (const auto &[name, f] : l.stages) sums.push_back(f);  // sum_dy and sum_dy_xhat
    schedule_grad_sums(ctx, node, sums, l.reduction("r"));
    if (node.batched) {
        schedule_root(ctx, l.out, node.shape);
    } else {
        l.out.compute_root();
    }
}

const OpDef &op_batchnorm_grad_input() {
    static const OpDef def = {
        .name = "batchnorm_grad_input",
        .summary = "dL/dx of batchnorm with batch statistics",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .lower = lower_batchnorm_grad_input,
        .schedule = schedule_batchnorm_grad,
        .flops = per_element_flops<6>,
    };
    return def;
}

const OpDef &op_batchnorm_grad_weight() {
    static const OpDef def = {
        .name = "batchnorm_grad_weight",
        .summary = "dL/dw of batchnorm: sum of dy * xhat per channel",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .lower = lower_batchnorm_grad_weight,
        .schedule = schedule_batchnorm_grad,
        .flops = per_input_element_flops<2>,
    };
    return def;
}

// y = xhat * w + b:  dw = sum dy xhat,  db = sum dy,  dx as above (the batch statistics depend on
// x)
void backward_batchnorm(BackwardCtx &ctx) {
    if (ctx.needs_input_grad()) {
        ctx.set_input_grad(
            0, ctx.emit(op_batchnorm_grad_input(), {ctx.dy(), ctx.x()}, ctx.x_shape(), "input"));
    }
    if (ctx.node().attrs.get_bool("affine")) {
        ctx.emit_param_grad(op_batchnorm_grad_weight(), {ctx.dy(), ctx.x()}, "weight");
        ctx.emit_param_grad(op_bias_grad(), {ctx.dy()}, "bias");
    }
}

// BatchNormalization(x, w, b, running_mean, running_var) in inference form; without affine
// parameters w = 1 and b = 0
void onnx_batchnorm(OnnxCtx &ctx) {
    bool affine = ctx.node().attrs.get_bool("affine");
    int64_t c = channels_of(ctx.node().shape);
    std::string w =
        affine ? ctx.param("weight") : ctx.constant("ones", std::vector<float>(c, 1), {c});
    std::string b =
        affine ? ctx.param("bias") : ctx.constant("zeros", std::vector<float>(c, 0), {c});
    ctx.emit("BatchNormalization",
             {ctx.x(), w, b, ctx.param("running_mean"), ctx.param("running_var")},
             {OnnxAttr::f("epsilon", (float)ctx.node().attrs.get_float("eps"))});
}

// (x - running_mean) * w / sqrt(running_var + eps) + b, the per-channel terms computed from the
// constants [C] (tosa.add, tosa.rsqrt, tosa.mul) and reshaped to broadcast over the channels
void mlir_batchnorm(MlirCtx &ctx) {
    bool affine = ctx.node().attrs.get_bool("affine");
    float eps = (float)ctx.node().attrs.get_float("eps");
    MlirValue var = ctx.param("running_var");
    MlirValue var_eps =
        mlir_elementwise(ctx, "tosa.add", {var, mlir_scalar(ctx, "eps", eps, 1)}, "var_eps");
    MlirValue scale = ctx.emit("tosa.rsqrt", {var_eps}, var_eps.type, {}, "inv_std");
    if (affine) scale = mlir_mul(ctx, scale, ctx.param("weight"), "scale");
    MlirValue mean = mlir_per_channel(ctx, ctx.param("running_mean"), ctx.x(), "mean_c");
    MlirValue centred = mlir_elementwise(ctx, "tosa.sub", {ctx.x(), mean}, "centred");
    scale = mlir_per_channel(ctx, scale, ctx.x(), "scale_c");
    if (!affine) {
        mlir_mul(ctx, centred, scale);
        return;
    }
    MlirValue scaled = mlir_mul(ctx, centred, scale, "scaled");
    MlirValue bias = mlir_per_channel(ctx, ctx.param("bias"), ctx.x(), "bias_c");
    mlir_elementwise(ctx, "tosa.add", {scaled, bias});
}

}  // namespace

const OpDef &op_batchnorm() {
    static const OpDef def = {
        .name = "batchnorm",
        .summary = "per-channel normalization with batch statistics",
        .attrs =
            {
                float_attr("momentum", 0.1, Range::closed(0, 1),
                           "weight of the batch statistic in the running average"),
                float_attr("eps", 1e-5, Range::above(0), "added to the variance"),
                bool_attr("affine", true, "learn a per-channel scale (weight) and shift (bias)"),
            },
        .infer_shape = batchnorm_shape,
        .params = batchnorm_params,
        .lower = lower_batchnorm,
        .schedule = schedule_batchnorm,
        .backward = backward_batchnorm,
        .flops = per_element_flops<5>,
        .onnx = onnx_batchnorm,
        .mlir = mlir_batchnorm,
    };
    return def;
}

}  // namespace netc
