// leaky_relu: y = x > 0 ? x : alpha * x, elementwise (torch.nn.LeakyReLU).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

// y = x > 0 ? x : alpha * x, elementwise (torch.nn.LeakyReLU).
OpLowering lower_leaky_relu(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) {
        return select(x > 0.0f, x, (float)ctx.attr_float("alpha") * x);
    });
}

// d/dx leaky_relu(x) = x > 0 ? 1 : alpha
OpLowering lower_leaky_relu_grad(const LowerCtx &ctx) {
    float alpha = (float)ctx.attr_float("alpha");
    return lower_pointwise_grad(ctx, [=](Expr dy, Expr x, Expr, const std::vector<Expr> &) {
        return select(x > 0.0f, dy, alpha * dy);
    });
}

const OpDef &op_leaky_relu_grad() {
    static const OpDef def = pointwise_grad_op("leaky_relu_grad", lower_leaky_relu_grad);
    return def;
}

void backward_leaky_relu(BackwardCtx &ctx) { backward_pointwise(ctx, op_leaky_relu_grad()); }

void onnx_leaky_relu(OnnxCtx &ctx) {
    onnx_unary(ctx, "LeakyRelu",
               {OnnxAttr::f("alpha", (float)ctx.node().attrs.get_float("alpha"))});
}

// x > 0 ? x : alpha * x (tosa.greater, tosa.select)
void mlir_leaky_relu(MlirCtx &ctx) {
    int rank = (int)ctx.x().type.dims.size();
    float alpha = (float)ctx.node().attrs.get_float("alpha");
    mlir_positive_or(ctx, mlir_mul(ctx, ctx.x(), mlir_scalar(ctx, "alpha", alpha, rank), "scaled"));
}

}  // namespace

const OpDef &op_leaky_relu() {
    static const OpDef def = {
        .name = "leaky_relu",
        .summary = "x for x > 0, alpha * x otherwise",
        .attrs = {float_attr("alpha", 0.01, Range::at_least(0), "slope for negative inputs")},
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_leaky_relu,
        .schedule = schedule_elementwise,
        .backward = backward_leaky_relu,
        .flops = per_element_flops<1>,
        .onnx = onnx_leaky_relu,
        .mlir = mlir_leaky_relu,
    };
    return def;
}

}  // namespace netc
