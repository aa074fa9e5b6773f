// prelu: y = x > 0 ? x : a_c * x with a learned slope per channel (torch.nn.PReLU).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

std::vector<ParamSpec> prelu_params(const Node &node, const std::vector<Shape> &in) {
    int64_t n = node.attrs.get_bool("shared") ? 1 : channels_of(in[0]);
    Initializer init{Initializer::Kind::Constant, node.attrs.get_float("init")};
    return {{"weight", Shape{{n}}, init, ParamRole::Slope}};
}

// y = x > 0 ? x : a[c] * x
OpLowering lower_prelu(const LowerCtx &ctx) {
    bool shared = ctx.node.attrs.get_bool("shared");
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &v) {
        Expr slope = ctx.param("weight", {shared ? Expr(0) : v[0]});
        return select(x > 0.0f, x, slope * x);
    });
}

// d/dx prelu(x) = x > 0 ? 1 : a[c]
OpLowering lower_prelu_grad_input(const LowerCtx &ctx) {
    bool shared = ctx.node.attrs.get_bool("shared");
    return lower_pointwise_grad(ctx, [&](Expr dy, Expr x, Expr, const std::vector<Expr> &v) {
        return select(x > 0.0f, dy, ctx.param("weight", {shared ? Expr(0) : v[0]}) * dy);
    });
}

const OpDef &op_prelu_grad_input() {
    static const OpDef def = pointwise_grad_op("prelu_grad_input", lower_prelu_grad_input);
    return def;
}

// dL/da[c] = sum_{n, y, x} dy * min(x, 0); shared: also summed over c
OpLowering lower_prelu_grad_weight(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.input_shape(1);
    bool image = s.rank() == 3;
    RDom r = image ? RDom(0, (int)s.dims[2], 0, (int)s.dims[1], 0, ctx.batch, ctx.name("r"))
                   : RDom(0, ctx.batch, ctx.name("r"));
    auto at = [&](const Func &f) { return image ? f(d.c, r[0], r[1], r[2]) : f(d.c, r[0]); };
    Func per_channel(ctx.name("per_channel"));
    per_channel(d.c) = 0.0f;
    Expr x = at(ctx.inputs[1]);
    per_channel(d.c) += select(x > 0.0f, 0.0f, at(ctx.inputs[0]) * x);
    Func out(ctx.node.name);
    if (ctx.node.attrs.get_bool("shared")) {
        RDom rc(0, (int)s.dims[0], ctx.name("rc"));
        out(d.i0) = sum(per_channel(rc));
    } else {
        out(d.i0) = per_channel(d.i0);
    }
    return {out, {{"per_channel", per_channel}}, {}, {{"r", r}}};
}

void schedule_prelu_grad_weight(const ScheduleCtx &ctx, const Node &, OpLowering &l) {
    const Dims &d = dims();
    Func per_channel = l.stage("per_channel");
    const RDom &r = l.reduction("r");
    std::vector<VarOrRVar> order = {d.c};
    for (int k = 0; k < r.dimensions(); k++) order.push_back(r[k]);
    per_channel.compute_root().vectorize(d.c, ctx.vector_width, TailStrategy::GuardWithIf);
    per_channel.update().reorder(order).vectorize(d.c, ctx.vector_width, TailStrategy::GuardWithIf);
    l.out.compute_root();
}

const OpDef &op_prelu_grad_weight() {
    static const OpDef def = {
        .name = "prelu_grad_weight",
        .summary = "dL/da of prelu: sum of dy * min(x, 0) per channel (or over all)",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .lower = lower_prelu_grad_weight,
        .schedule = schedule_prelu_grad_weight,
        .flops = per_input_element_flops<2>,
    };
    return def;
}

// y = x > 0 ? x : a x:  dx = dy * (x > 0 ? 1 : a),  da = sum dy * min(x, 0)
void backward_prelu(BackwardCtx &ctx) {
    backward_pointwise(ctx, op_prelu_grad_input());
    ctx.emit_param_grad(op_prelu_grad_weight(), {ctx.dy(), ctx.x()}, "weight");
}

// PRelu(x, a): the slope [C] (or [1] shared) as torch has it, reshaped to [C, 1, 1] on an image
// so that it broadcasts over the channels
void onnx_prelu(OnnxCtx &ctx) {
    std::string slope = ctx.param("weight");
    if (ctx.x_shape().rank() == 3 && !ctx.node().attrs.get_bool("shared")) {
        int64_t c = ctx.x_shape().dims[0];
        std::string shape = ctx.constant_ints("slope_shape", {c, 1, 1}, {3});
        slope = ctx.emit("Reshape", {slope, shape}, {}, "slope");
    }
    ctx.emit("PRelu", {ctx.x(), slope});
}

// x > 0 ? x : a * x, the slope [C] (or [1] shared) as torch has it, reshaped to [1, 1, 1, C] (or
// [1, C]) so that it broadcasts over the channels
void mlir_prelu(MlirCtx &ctx) {
    MlirValue slope = mlir_per_channel(ctx, ctx.param("weight"), ctx.x(), "slope");
    mlir_positive_or(ctx, mlir_mul(ctx, ctx.x(), slope, "scaled"));
}

}  // namespace

const OpDef &op_prelu() {
    static const OpDef def = {
        .name = "prelu",
        .summary = "leaky ReLU with a learned slope per channel",
        .attrs =
            {
                float_attr("init", 0.25, Range::any(), "initial slope"),
                bool_attr("shared", false, "one slope for all channels instead of one per channel"),
            },
        .infer_shape = same_shape,
        .params = prelu_params,
        .elementwise = true,
        .lower = lower_prelu,
        .schedule = schedule_elementwise,
        .backward = backward_prelu,
        .flops = per_element_flops<1>,
        .onnx = onnx_prelu,
        .mlir = mlir_prelu,
    };
    return def;
}

}  // namespace netc
