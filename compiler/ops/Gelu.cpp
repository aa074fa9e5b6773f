// gelu: y = x * Phi(x), the Gaussian error linear unit (torch.nn.GELU), exact or tanh form.
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// exact: y = x/2 * (1 + erf(x / sqrt(2)));  tanh: y = x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
OpLowering lower_gelu(const LowerCtx &ctx) {
    bool exact = ctx.node.attrs.get_enum("approximate") == "none";
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) {
        if (exact) return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));
        return 0.5f * x * (1.0f + tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    });
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
    };
    return def;
}

}  // namespace netc
