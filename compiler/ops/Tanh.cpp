// tanh: y = tanh(x), elementwise.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

// y = tanh(x), elementwise.
OpLowering lower_tanh(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) { return vector_tanh(x); });
}

// d/dx tanh(x) = 1 - y^2
OpLowering lower_tanh_grad(const LowerCtx &ctx) {
    return lower_pointwise_grad(
        ctx, [](Expr dy, Expr, Expr y, const std::vector<Expr> &) { return dy * (1.0f - y * y); });
}

const OpDef &op_tanh_grad() {
    static const OpDef def = pointwise_grad_op("tanh_grad", lower_tanh_grad);
    return def;
}

void backward_tanh(BackwardCtx &ctx) { backward_pointwise(ctx, op_tanh_grad()); }

void onnx_tanh(OnnxCtx &ctx) { onnx_unary(ctx, "Tanh"); }

void mlir_tanh(MlirCtx &ctx) { mlir_unary(ctx, "tosa.tanh"); }

}  // namespace

const OpDef &op_tanh() {
    static const OpDef def = {
        .name = "tanh",
        .summary = "hyperbolic tangent",
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_tanh,
        .schedule = schedule_elementwise,
        .backward = backward_tanh,
        .flops = per_element_flops<1>,
        .onnx = onnx_tanh,
        .mlir = mlir_tanh,
    };
    return def;
}

}  // namespace netc
