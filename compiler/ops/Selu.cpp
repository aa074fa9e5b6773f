// selu: y = scale * (x > 0 ? x : alpha * (exp(x) - 1)), scale = 1.0507..., alpha = 1.6732... (torch.nn.SELU).
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// The self-normalizing constants of Klambauer et al. 2017, as torch.nn.SELU uses them.
constexpr float selu_alpha = 1.6732632423543772848170429916717f;
constexpr float selu_scale = 1.0507009873554804934193349852946f;

// y = scale * (x > 0 ? x : alpha * (exp(x) - 1)), scale = 1.0507..., alpha = 1.6732... (torch.nn.SELU).
OpLowering lower_selu(const LowerCtx &ctx) {
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &) { return selu_scale * select(x > 0.0f, x, selu_alpha * (exp(x) - 1.0f)); });
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
    };
    return def;
}

}  // namespace netc
