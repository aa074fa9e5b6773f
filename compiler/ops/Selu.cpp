// selu: y = scale * (x > 0 ? x : alpha * (exp(x) - 1)), scale = 1.0507..., alpha = 1.6732...
// (torch.nn.SELU).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

// The self-normalizing constants of Klambauer et al. 2017, as torch.nn.SELU uses them.
constexpr float selu_alpha = 1.6732632423543772848170429916717f;
constexpr float selu_scale = 1.0507009873554804934193349852946f;

// y = scale * (x > 0 ? x : alpha * (exp(x) - 1)), scale = 1.0507..., alpha = 1.6732...
// (torch.nn.SELU).
OpLowering lower_selu(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) {
        return selu_scale * select(x > 0.0f, x, selu_alpha * (exp(x) - 1.0f));
    });
}

// d/dx selu(x) = x > 0 ? scale : scale * alpha * exp(x) = y + scale * alpha
OpLowering lower_selu_grad(const LowerCtx &ctx) {
    return lower_pointwise_grad(ctx, [](Expr dy, Expr x, Expr y, const std::vector<Expr> &) {
        return select(x > 0.0f, selu_scale * dy, dy * (y + selu_scale * selu_alpha));
    });
}

const OpDef &op_selu_grad() {
    static const OpDef def = pointwise_grad_op("selu_grad", lower_selu_grad);
    return def;
}

void backward_selu(BackwardCtx &ctx) { backward_pointwise(ctx, op_selu_grad()); }

void onnx_selu(OnnxCtx &ctx) {
    onnx_unary(ctx, "Selu", {OnnxAttr::f("alpha", selu_alpha), OnnxAttr::f("gamma", selu_scale)});
}

// scale * (x > 0 ? x : alpha * (exp(x) - 1)), as elu's rule and a tosa.mul
void mlir_selu(MlirCtx &ctx) {
    int rank = (int)ctx.x().type.dims.size();
    MlirValue e = ctx.emit("tosa.exp", {ctx.x()}, ctx.x().type, {}, "exp");
    MlirValue em1 =
        mlir_elementwise(ctx, "tosa.sub", {e, mlir_scalar(ctx, "one", 1.0f, rank)}, "exp_minus_1");
    MlirValue negative =
        mlir_mul(ctx, em1, mlir_scalar(ctx, "alpha", selu_alpha, rank), "negative");
    MlirValue elu = mlir_positive_or(ctx, negative, "elu");
    mlir_mul(ctx, elu, mlir_scalar(ctx, "scale", selu_scale, rank));
}

}  // namespace

const OpDef &op_selu() {
    static const OpDef def = {
        .name = "selu",
        .summary = "scaled ELU with the self-normalizing constants",
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_selu,
        .schedule = schedule_elementwise,
        .backward = backward_selu,
        .flops = per_element_flops<1>,
        .onnx = onnx_selu,
        .mlir = mlir_selu,
    };
    return def;
}

}  // namespace netc
