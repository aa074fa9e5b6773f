// relu: y = max(x, 0), elementwise.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Onnx.h"

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
    };
    return def;
}

}  // namespace netc
