// elu: y = x > 0 ? x : alpha * (exp(x) - 1), elementwise (torch.nn.ELU).
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// y = x > 0 ? x : alpha * (exp(x) - 1), elementwise (torch.nn.ELU).
OpLowering lower_elu(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) { return select(x > 0.0f, x, (float)ctx.attr_float("alpha") * (exp(x) - 1.0f)); });
}

}  // namespace

const OpDef &op_elu() {
    static const OpDef def = {
        .name = "elu",
        .summary = "x for x > 0, alpha * (exp(x) - 1) otherwise",
        .attrs = {float_attr("alpha", 1.0, Range::above(0), "saturation value for negative inputs")},
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_elu,
        .schedule = schedule_elementwise,
    };
    return def;
}

}  // namespace netc
