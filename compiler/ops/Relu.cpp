// relu: y = max(x, 0), elementwise.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

#include <cstdint>
#include <limits>

namespace netc {

using namespace Halide;

namespace {

// y = max(x, 0), elementwise.
OpLowering lower_relu(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) { return max(x, 0.0f); });
}

// d/dx max(x, 0) = 1[x > 0]
OpLowering lower_relu_grad(const LowerCtx &ctx) {
    return lower_pointwise_grad(ctx, [](Expr dy, Expr x, Expr, const std::vector<Expr> &) {
        return select(x > 0.0f, dy, 0.0f);
    });
}

const OpDef &op_relu_grad() {
    static const OpDef def = pointwise_grad_op("relu_grad", lower_relu_grad);
    return def;
}

void backward_relu(BackwardCtx &ctx) { backward_pointwise(ctx, op_relu_grad()); }

void onnx_relu(OnnxCtx &ctx) { onnx_unary(ctx, "Relu"); }

// tosa.clamp to [0, the largest float]
void mlir_relu(MlirCtx &ctx) {
    mlir_unary(ctx, "tosa.clamp",
               {MlirAttr::i64("min_int", 0), MlirAttr::i64("max_int", INT32_MAX),
                MlirAttr::f32("min_fp", 0.0f),
                MlirAttr::f32("max_fp", std::numeric_limits<float>::max())});
}

}  // namespace

const OpDef &op_relu() {
    static const OpDef def = {
        .name = "relu",
        .summary = "rectified linear unit max(x, 0)",
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_relu,
        .schedule = schedule_elementwise,
        .backward = backward_relu,
        .flops = per_element_flops<1>,
        .onnx = onnx_relu,
        .mlir = mlir_relu,
    };
    return def;
}

}  // namespace netc
