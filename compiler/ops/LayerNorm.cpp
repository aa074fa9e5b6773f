// layernorm: normalizes each sample over all its elements, then applies an elementwise scale
// and shift of the sample's shape (torch.nn.LayerNorm(normalized_shape = per-sample shape)).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

std::vector<ParamSpec> layernorm_params(const Node &node, const std::vector<Shape> &in) {
    std::vector<ParamSpec> p;
    if (node.attrs.get_bool("affine")) {
        p.push_back({"weight", in[0], {Initializer::Kind::Ones, 0}, ParamRole::Norm});
        p.push_back({"bias", in[0], {Initializer::Kind::Zeros, 0}, ParamRole::Norm});
    }
    return p;
}

// y = (x - mean_n) / sqrt(var_n + eps) * w[c, y, x] + b[c, y, x], statistics over one sample
OpLowering lower_layernorm(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.node.shape;
    bool image = s.rank() == 3;
    const Func &in = ctx.inputs[0];
    RDom r = image ? RDom(0, (int)s.dims[0], 0, (int)s.dims[2], 0, (int)s.dims[1], ctx.name("r"))
                   : RDom(0, (int)s.dims[0], ctx.name("r"));
    auto at = [&](Expr n) { return image ? in(r[0], r[1], r[2], n) : in(r[0], n); };
    float count = (float)s.elements();
    Func mean(ctx.name("mean")), var(ctx.name("var")), inv_std(ctx.name("inv_std"));
    mean(d.n) = sum(at(d.n)) / count;
    var(d.n) = sum((at(d.n) - mean(d.n)) * (at(d.n) - mean(d.n))) / count;
    inv_std(d.n) = 1.0f / sqrt(var(d.n) + (float)ctx.attr_float("eps"));
    bool affine = ctx.has_param("weight");
    OpLowering l = lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &v) {
        Expr n = v.back();
        Expr normalized = (x - mean(n)) * inv_std(n);
        if (!affine) return normalized;
        std::vector<Expr> torch_index =
            image ? std::vector<Expr>{v[0], v[2], v[1]} : std::vector<Expr>{v[0]};
        return normalized * ctx.param("weight", torch_index) + ctx.param("bias", torch_index);
    });
    l.stages = {{"mean", mean}, {"var", var}, {"inv_std", inv_std}};
    l.saved = {{"mean", mean}, {"inv_std", inv_std}};
    l.reductions = {{"r", r}};
    return l;
}

void schedule_layernorm(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    for (const auto &[name, f] : l.stages) Func(f).compute_root().parallel(dims().n);
    schedule_elementwise(ctx, node, l);
}

/// The normalized input xhat = (x - mean_n) * inv_std_n at value coordinates v.
Expr layernorm_xhat(const LowerCtx &ctx, const Func &x, const std::vector<Expr> &v) {
    Expr n = v.back();
    return (x(v) - ctx.saved("mean")(n)) * ctx.saved("inv_std")(n);
}

/// w[c, y, x] at value coordinates v, or 1 without affine parameters.
Expr layernorm_weight(const LowerCtx &ctx, const std::vector<Expr> &v) {
    if (!ctx.has_param("weight")) return 1.0f;
    bool image = v.size() == 4;
    return ctx.param("weight",
                     image ? std::vector<Expr>{v[0], v[2], v[1]} : std::vector<Expr>{v[0]});
}

// dL/dx = inv_std / M * (M g - sum(g) - xhat * sum(g * xhat)), g = dy * w, sums over the sample
OpLowering lower_layernorm_grad_input(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.node.shape;
    bool image = s.rank() == 3;
    const Func &dy = ctx.inputs[0], &x = ctx.inputs[1];
    auto g = [&](const std::vector<Expr> &v) { return dy(v) * layernorm_weight(ctx, v); };
    auto g_xhat = [&](const std::vector<Expr> &v) { return g(v) * layernorm_xhat(ctx, x, v); };
    // Per-channel partial sums over the pixels, whole channel vectors at a time, then the
    // per-sample sums over the channels.
    Func part(ctx.name("part")), part_xhat(ctx.name("part_xhat"));
    Func total(ctx.name("total")), total_xhat(ctx.name("total_xhat"));
    RDom rc(0, (int)s.dims[0], ctx.name("rc"));
    OpLowering l;
    if (image) {
        RDom r(0, (int)s.dims[2], 0, (int)s.dims[1], ctx.name("r"));
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
    total(d.n) = sum(part(rc, d.n));
    total_xhat(d.n) = sum(part_xhat(rc, d.n));
    l.stages.insert({{"total", total}, {"total_xhat", total_xhat}});
    float count = (float)s.elements();
    std::vector<Var> v = value_vars(s);
    std::vector<Expr> at(v.begin(), v.end());
    Expr inv_std = ctx.saved("inv_std")(d.n);
    l.out = Func(ctx.node.name);
    l.out(v) = inv_std * (1.0f / count) *
               (count * g(at) - total(d.n) - layernorm_xhat(ctx, x, at) * total_xhat(d.n));
    return l;
}

void schedule_layernorm_grad_input(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
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

/// dL/dw = sum_n dy * xhat (with_xhat) or dL/db = sum_n dy, elementwise over the sample, as
/// (i0 = x, i1 = y, i2 = c) for [C, H, W] and (i0 = f) for [F].
OpLowering lower_layernorm_grad_param(const LowerCtx &ctx, bool with_xhat) {
    const Dims &d = dims();
    const Shape &s = ctx.forward_node().shape;
    bool image = s.rank() == 3;
    const Func &dy = ctx.inputs[0];
    RDom r(0, ctx.batch, ctx.name("r"));
    std::vector<Expr> at =
        image ? std::vector<Expr>{d.c, d.x, d.y, r.x} : std::vector<Expr>{d.c, r.x};
    Expr term = with_xhat ? dy(at) * layernorm_xhat(ctx, ctx.inputs[1], at) : dy(at);
    Func acc(ctx.name("acc"));  // in the value layout, channels innermost
    Func out(ctx.node.name);
    if (image) {
        acc(d.c, d.x, d.y) = 0.0f;
        acc(d.c, d.x, d.y) += term;
        out(d.i0, d.i1, d.i2) = acc(d.i2, d.i0, d.i1);
    } else {
        acc(d.c) = 0.0f;
        acc(d.c) += term;
        out(d.i0) = acc(d.i0);
    }
    return {out, {{"acc", acc}}, {}, {{"r", r}}};
}

// dL/dw[c, y, x] = sum_n dy * xhat
OpLowering lower_layernorm_grad_weight(const LowerCtx &ctx) {
    return lower_layernorm_grad_param(ctx, true);
}

// dL/db[c, y, x] = sum_n dy
OpLowering lower_layernorm_grad_bias(const LowerCtx &ctx) {
    return lower_layernorm_grad_param(ctx, false);
}

void schedule_layernorm_grad_param(const ScheduleCtx &ctx, const Node &, OpLowering &l) {
    const Dims &d = dims();
    Func acc = l.stage("acc");
    int width = ctx.vector_width;
    RVar rn = l.reduction("r").x;
    acc.compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf);
    if (acc.dimensions() == 3) {
        acc.update()
            .reorder(d.c, rn, d.x, d.y)
            .vectorize(d.c, width, TailStrategy::GuardWithIf)
            .parallel(d.y);
    } else {
        acc.update().reorder(d.c, rn).vectorize(d.c, width, TailStrategy::GuardWithIf);
    }
    l.out.compute_root();
}

const OpDef &op_layernorm_grad_input() {
    static const OpDef def = {
        .name = "layernorm_grad_input",
        .summary = "dL/dx of layernorm",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .lower = lower_layernorm_grad_input,
        .schedule = schedule_layernorm_grad_input,
        .flops = per_element_flops<6>,
    };
    return def;
}

const OpDef &op_layernorm_grad_weight() {
    static const OpDef def = {
        .name = "layernorm_grad_weight",
        .summary = "dL/dw of layernorm: sum over the batch of dy * xhat",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .lower = lower_layernorm_grad_weight,
        .schedule = schedule_layernorm_grad_param,
        .flops = per_input_element_flops<2>,
    };
    return def;
}

const OpDef &op_layernorm_grad_bias() {
    static const OpDef def = {
        .name = "layernorm_grad_bias",
        .summary = "dL/db of layernorm: sum over the batch of dy",
        .user_visible = false,
        .lower = lower_layernorm_grad_bias,
        .schedule = schedule_layernorm_grad_param,
        .flops = per_input_element_flops<1>,
    };
    return def;
}

// y = xhat * w + b, statistics per sample:  dw = sum_n dy xhat,  db = sum_n dy,  dx as above
void backward_layernorm(BackwardCtx &ctx) {
    if (ctx.needs_input_grad()) {
        ctx.set_input_grad(
            0, ctx.emit(op_layernorm_grad_input(), {ctx.dy(), ctx.x()}, ctx.x_shape(), "input"));
    }
    if (ctx.node().attrs.get_bool("affine")) {
        ctx.emit_param_grad(op_layernorm_grad_weight(), {ctx.dy(), ctx.x()}, "weight");
        ctx.emit_param_grad(op_layernorm_grad_bias(), {ctx.dy()}, "bias");
    }
}

// the sample as one row normalized (onnx_normalize_rows), then * w + b, w and b [C, H, W] (or
// [F]) as torch has them, broadcast over the batch
void onnx_layernorm(OnnxCtx &ctx) {
    std::string normalized = onnx_normalize_rows(ctx, 1);
    if (!ctx.node().attrs.get_bool("affine")) return;
    std::string scaled = ctx.emit("Mul", {normalized, ctx.param("weight")}, {}, "scaled");
    ctx.emit("Add", {scaled, ctx.param("bias")});
}

// the sample as one group normalized (mlir_normalize_groups), then * w + b, w and b [C, H, W]
// (or [F]) as torch has them, tosa.transpose'd to [H, W, C] and reshaped to [1, H, W, C]
void mlir_layernorm(MlirCtx &ctx) {
    MlirValue normalized = mlir_normalize_groups(ctx, 1);
    if (!ctx.node().attrs.get_bool("affine")) return;
    auto nhwc = [&](const std::string &suffix) {
        MlirValue p = ctx.param(suffix);
        if (ctx.x_shape().rank() == 3) p = mlir_transpose(ctx, p, {1, 2, 0}, suffix + "_hwc");
        std::vector<int64_t> dims = ctx.value_type().dims;
        dims[0] = 1;
        return mlir_reshape(ctx, p, dims, suffix + "_nhwc");
    };
    MlirValue scaled = mlir_mul(ctx, normalized, nhwc("weight"), "scaled");
    mlir_elementwise(ctx, "tosa.add", {scaled, nhwc("bias")});
}

}  // namespace

const OpDef &op_layernorm() {
    static const OpDef def = {
        .name = "layernorm",
        .summary = "per-sample normalization over all of a sample's elements",
        .attrs =
            {
                float_attr("eps", 1e-5, Range::above(0), "added to the variance"),
                bool_attr("affine", true, "learn an elementwise scale (weight) and shift (bias)"),
            },
        .infer_shape = same_shape,
        .params = layernorm_params,
        .lower = lower_layernorm,
        .schedule = schedule_layernorm,
        .backward = backward_layernorm,
        .flops = per_element_flops<5>,
        .onnx = onnx_layernorm,
        .mlir = mlir_layernorm,
    };
    return def;
}

}  // namespace netc
