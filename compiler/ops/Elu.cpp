// elu: y = x > 0 ? x : alpha * (exp(x) - 1), elementwise (torch.nn.ELU).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

// y = x > 0 ? x : alpha * (exp(x) - 1), elementwise (torch.nn.ELU).
OpLowering lower_elu(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) {
        return select(x > 0.0f, x, (float)ctx.attr_float("alpha") * (exp(x) - 1.0f));
    });
}

// d/dx elu(x) = x > 0 ? 1 : alpha * exp(x) = y + alpha
OpLowering lower_elu_grad(const LowerCtx &ctx) {
    float alpha = (float)ctx.attr_float("alpha");
    return lower_pointwise_grad(ctx, [=](Expr dy, Expr x, Expr y, const std::vector<Expr> &) {
        return select(x > 0.0f, dy, dy * (y + alpha));
    });
}

const OpDef &op_elu_grad() {
    static const OpDef def = pointwise_grad_op("elu_grad", lower_elu_grad);
    return def;
}

void backward_elu(BackwardCtx &ctx) { backward_pointwise(ctx, op_elu_grad()); }

void onnx_elu(OnnxCtx &ctx) {
    onnx_unary(ctx, "Elu", {OnnxAttr::f("alpha", (float)ctx.node().attrs.get_float("alpha"))});
}

// x > 0 ? x : alpha * (exp(x) - 1) (tosa.exp, tosa.sub, tosa.mul, tosa.select)
void mlir_elu(MlirCtx &ctx) {
    int rank = (int)ctx.x().type.dims.size();
    float alpha = (float)ctx.node().attrs.get_float("alpha");
    MlirValue e = ctx.emit("tosa.exp", {ctx.x()}, ctx.x().type, {}, "exp");
    MlirValue em1 =
        mlir_elementwise(ctx, "tosa.sub", {e, mlir_scalar(ctx, "one", 1.0f, rank)}, "exp_minus_1");
    mlir_positive_or(ctx, mlir_mul(ctx, em1, mlir_scalar(ctx, "alpha", alpha, rank), "negative"));
}

}  // namespace

const OpDef &op_elu() {
    static const OpDef def = {
        .name = "elu",
        .summary = "x for x > 0, alpha * (exp(x) - 1) otherwise",
        .attrs = {float_attr("alpha", 1.0, Range::above(0),
                             "saturation value for negative inputs")},
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_elu,
        .schedule = schedule_elementwise,
        .backward = backward_elu,
        .flops = per_element_flops<1>,
        .onnx = onnx_elu,
        .mlir = mlir_elu,
    };
    return def;
}

}  // namespace netc
