// gelu: y = x * Phi(x), the Gaussian error linear unit (torch.nn.GELU), exact or tanh form.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
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
        return 0.5f * x * (1.0f + vector_tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
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
        Expr t = vector_tanh(0.79788456080286536f * (x + 0.044715f * x * x * x));
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

// tanh: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)));  exact: x/2 * (1 + erf(x / sqrt(2)))
// with erf from Abramowitz and Stegun 7.1.26 (|error| <= 1.5e-7), TOSA 14 having no erf:
// erf(u) = sign(u) (1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-u^2)), t = 1 / (1 + p |u|)
void mlir_gelu(MlirCtx &ctx) {
    bool exact = ctx.node().attrs.get_enum("approximate") == "none";
    int rank = (int)ctx.x().type.dims.size();
    const MlirValue &x = ctx.x();
    auto scalar = [&](const std::string &what, float v) { return mlir_scalar(ctx, what, v, rank); };
    auto add = [&](const MlirValue &a, const MlirValue &b, const std::string &what) {
        return mlir_elementwise(ctx, "tosa.add", {a, b}, what);
    };
    auto unary = [&](const char *op, const MlirValue &a, const std::string &what) {
        return ctx.emit(op, {a}, a.type, {}, what);
    };
    MlirValue phi;  // 1 + erf(...) or 1 + tanh(...)
    if (exact) {
        MlirValue u = mlir_mul(ctx, x, scalar("inv_sqrt2", 0.70710678118654752f), "u");
        MlirValue abs_u = unary("tosa.abs", u, "abs_u");
        // One emitting call per statement: argument order is unspecified in C++, and the text
        // must not depend on the compiler.
        MlirValue pu = mlir_mul(ctx, abs_u, scalar("p", 0.3275911f), "pu");
        MlirValue t = unary("tosa.reciprocal", add(pu, scalar("one", 1.0f), "den"), "t");
        const float a[] = {0.254829592f, -0.284496736f, 1.421413741f, -1.453152027f, 1.061405429f};
        MlirValue poly = scalar("a5", a[4]);
        for (int i = 3; i >= 0; i--) {
            std::string k = std::to_string(i + 1);
            MlirValue poly_t = mlir_mul(ctx, poly, t, "poly" + k + "_t");
            poly = add(poly_t, scalar("a" + k, a[i]), "poly" + k);
        }
        poly = mlir_mul(ctx, poly, t, "poly");
        MlirValue neg_u2 = unary("tosa.negate", mlir_mul(ctx, u, u, "u2"), "neg_u2");
        MlirValue tail = mlir_mul(ctx, poly, unary("tosa.exp", neg_u2, "gauss"), "tail");
        MlirValue erf_abs =
            mlir_elementwise(ctx, "tosa.sub", {scalar("erf_one", 1.0f), tail}, "erf_abs");
        MlirValue nonnegative = mlir_elementwise(ctx, "tosa.greater_equal",
                                                 {u, scalar("zero", 0.0f)}, "nonnegative", "i1");
        MlirValue erf = ctx.emit("tosa.select",
                                 {nonnegative, erf_abs, unary("tosa.negate", erf_abs, "erf_neg")},
                                 u.type, {}, "erf");
        phi = add(erf, scalar("phi_one", 1.0f), "phi");
    } else {
        MlirValue x3 = mlir_mul(ctx, mlir_mul(ctx, x, x, "x2"), x, "x3");
        MlirValue inner = add(x, mlir_mul(ctx, x3, scalar("c", 0.044715f), "cx3"), "inner");
        MlirValue u = mlir_mul(ctx, inner, scalar("sqrt_2_over_pi", 0.79788456080286536f), "u");
        MlirValue tanh = unary("tosa.tanh", u, "tanh");
        phi = add(tanh, scalar("one", 1.0f), "phi");
    }
    mlir_mul(ctx, mlir_mul(ctx, x, scalar("half", 0.5f), "half_x"), phi);
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
        .mlir = mlir_gelu,
    };
    return def;
}

}  // namespace netc
