// gelu: y = x * Phi(x), the Gaussian error linear unit (torch.nn.GELU), exact or tanh form.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

// exact: y = x/2 * (1 + erf(x / sqrt(2)));  tanh: y = x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715
// x^3)))
OpLowering lower_gelu(const LowerCtx &ctx) {
    bool exact = ctx.node.attrs.get_enum("approximate") == "none";
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) {
        if (exact) return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));
        return 0.5f * x * (1.0f + tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    });
}

// exact: d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi)
// tanh:  d/dx = (1 + t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(u) as above
OpLowering lower_gelu_grad(const LowerCtx &ctx) {
    bool exact = ctx.node.attrs.get_enum("approximate") == "none";
    return lower_pointwise_grad(ctx, [=](Expr dy, Expr x, Expr, const std::vector<Expr> &) {
        if (exact) {
            Expr cdf = 0.5f * (1.0f + erf(x * 0.70710678118654752f));
            Expr pdf = 0.39894228040143268f * exp(-0.5f * x * x);
            return dy * (cdf + x * pdf);
        }
        Expr t = tanh(0.79788456080286536f * (x + 0.044715f * x * x * x));
        Expr du = 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * x * x);
        return dy * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
    });
}

const OpDef &op_gelu_grad() {
    static const OpDef def = pointwise_grad_op("gelu_grad", lower_gelu_grad);
    return def;
}

void backward_gelu(BackwardCtx &ctx) { backward_pointwise(ctx, op_gelu_grad()); }

// exact: x/2 * (1 + Erf(x / sqrt(2)));  tanh: x/2 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
// (ONNX has Gelu only from opset 20)
void onnx_gelu(OnnxCtx &ctx) {
    bool exact = ctx.node().attrs.get_enum("approximate") == "none";
    auto scalar = [&](const char *what, float v) { return ctx.constant(what, {v}, {}); };
    std::string phi;  // 1 + erf(...) or 1 + tanh(...)
    if (exact) {
        std::string u =
            ctx.emit("Mul", {ctx.x(), scalar("inv_sqrt2", 0.70710678118654752f)}, {}, "u");
        std::string e = ctx.emit("Erf", {u}, {}, "erf");
        phi = ctx.emit("Add", {e, scalar("one", 1.0f)}, {}, "phi");
    } else {
        std::string x2 = ctx.emit("Mul", {ctx.x(), ctx.x()}, {}, "x2");
        std::string x3 = ctx.emit("Mul", {x2, ctx.x()}, {}, "x3");
        std::string c3 = ctx.emit("Mul", {x3, scalar("c", 0.044715f)}, {}, "cx3");
        std::string inner = ctx.emit("Add", {ctx.x(), c3}, {}, "inner");
        std::string u =
            ctx.emit("Mul", {inner, scalar("sqrt_2_over_pi", 0.79788456080286536f)}, {}, "u");
        std::string t = ctx.emit("Tanh", {u}, {}, "tanh");
        phi = ctx.emit("Add", {t, scalar("one", 1.0f)}, {}, "phi");
    }
    std::string half = ctx.emit("Mul", {ctx.x(), scalar("half", 0.5f)}, {}, "half_x");
    ctx.emit("Mul", {half, phi});
}

}  // namespace

const OpDef &op_gelu() {
    static const OpDef def = {
        .name = "gelu",
        .summary = "x * Phi(x), Phi the standard normal CDF",
        .attrs = {enum_attr("approximate", "none", {"none", "tanh"},
                            "none: exact erf form; tanh: the tanh approximation")},
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_gelu,
        .schedule = schedule_elementwise,
        .backward = backward_gelu,
        .flops = per_element_flops<1>,
        .onnx = onnx_gelu,
    };
    return def;
}

}  // namespace netc
