// sigmoid: y = 1 / (1 + exp(-x)), elementwise.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

// y = 1 / (1 + exp(-x)), elementwise.
OpLowering lower_sigmoid(const LowerCtx &ctx) {
    return lower_pointwise(
        ctx, [&](Expr x, const std::vector<Expr> &) { return 1.0f / (1.0f + exp(-x)); });
}

// d/dx sigmoid(x) = y * (1 - y)
OpLowering lower_sigmoid_grad(const LowerCtx &ctx) {
    return lower_pointwise_grad(
        ctx, [](Expr dy, Expr, Expr y, const std::vector<Expr> &) { return dy * y * (1.0f - y); });
}

const OpDef &op_sigmoid_grad() {
    static const OpDef def = pointwise_grad_op("sigmoid_grad", lower_sigmoid_grad);
    return def;
}

void backward_sigmoid(BackwardCtx &ctx) { backward_pointwise(ctx, op_sigmoid_grad()); }

void onnx_sigmoid(OnnxCtx &ctx) { onnx_unary(ctx, "Sigmoid"); }

void mlir_sigmoid(MlirCtx &ctx) { mlir_unary(ctx, "tosa.sigmoid"); }

}  // namespace

const OpDef &op_sigmoid() {
    static const OpDef def = {
        .name = "sigmoid",
        .summary = "logistic sigmoid 1 / (1 + exp(-x))",
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_sigmoid,
        .schedule = schedule_elementwise,
        .backward = backward_sigmoid,
        .flops = per_element_flops<1>,
        .onnx = onnx_sigmoid,
        .mlir = mlir_sigmoid,
    };
    return def;
}

}  // namespace netc
