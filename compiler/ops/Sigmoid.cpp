// sigmoid: y = 1 / (1 + exp(-x)), elementwise.
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// y = 1 / (1 + exp(-x)), elementwise.
OpLowering lower_sigmoid(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) { return 1.0f / (1.0f + exp(-x)); });
}

}  // namespace

const OpDef &op_sigmoid() {
    static const OpDef def = {
        .name = "sigmoid",
        .summary = "logistic sigmoid 1 / (1 + exp(-x))",
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_sigmoid,
        .schedule = schedule_elementwise,
    };
    return def;
}

}  // namespace netc
