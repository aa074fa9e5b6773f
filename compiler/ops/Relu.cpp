// relu: y = max(x, 0), elementwise.
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// y = max(x, 0), elementwise.
OpLowering lower_relu(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) { return max(x, 0.0f); });
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
    };
    return def;
}

}  // namespace netc
