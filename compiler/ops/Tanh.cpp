// tanh: y = tanh(x), elementwise.
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// y = tanh(x), elementwise.
OpLowering lower_tanh(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) { return tanh(x); });
}

}  // namespace

const OpDef &op_tanh() {
    static const OpDef def = {
        .name = "tanh",
        .summary = "hyperbolic tangent",
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_tanh,
        .schedule = schedule_elementwise,
    };
    return def;
}

}  // namespace netc
