// prelu: y = x > 0 ? x : a_c * x with a learned slope per channel (torch.nn.PReLU).
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

std::vector<ParamSpec> prelu_params(const Node &node, const std::vector<Shape> &in) {
    int64_t n = node.attrs.get_bool("shared") ? 1 : channels_of(in[0]);
    Initializer init{Initializer::Kind::Constant, node.attrs.get_float("init")};
    return {{"weight", Shape{{n}}, init, ParamRole::Slope}};
}

// y = x > 0 ? x : a[c] * x
OpLowering lower_prelu(const LowerCtx &ctx) {
    bool shared = ctx.node.attrs.get_bool("shared");
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &v) {
        Expr slope = ctx.param("weight", {shared ? Expr(0) : v[0]});
        return select(x > 0.0f, x, slope * x);
    });
}

}  // namespace

const OpDef &op_prelu() {
    static const OpDef def = {
        .name = "prelu",
        .summary = "leaky ReLU with a learned slope per channel",
        .attrs =
            {
                float_attr("init", 0.25, Range::any(), "initial slope"),
                bool_attr("shared", false, "one slope for all channels instead of one per channel"),
            },
        .infer_shape = same_shape,
        .params = prelu_params,
        .elementwise = true,
        .lower = lower_prelu,
        .schedule = schedule_elementwise,
    };
    return def;
}

}  // namespace netc
