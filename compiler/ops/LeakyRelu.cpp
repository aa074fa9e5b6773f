// leaky_relu: y = x > 0 ? x : alpha * x, elementwise (torch.nn.LeakyReLU).
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// y = x > 0 ? x : alpha * x, elementwise (torch.nn.LeakyReLU).
OpLowering lower_leaky_relu(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) { return select(x > 0.0f, x, (float)ctx.attr_float("alpha") * x); });
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
    };
    return def;
}

}  // namespace netc
