// dropout: in training, zeroes each element with probability p and scales the rest by
// 1 / (1 - p) (inverted dropout, torch.nn.Dropout); the identity in inference.
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// train: y = u >= p ? x / (1 - p) : 0, u uniform from (seed, step, layer, element);  infer: y = x
OpLowering lower_dropout(const LowerCtx &ctx) {
    float p = (float)ctx.attr_float("p");
    if (ctx.mode == Mode::Infer || p == 0.0f) {
        return lower_pointwise(ctx, [](Expr x, const std::vector<Expr> &) { return x; });
    }
    const Shape &s = ctx.node.shape;
    Expr key = random_bits(ctx.rng_key, ctx.node.id);
    return lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &v) {
        // The element's index in NCHW order names its random number.
        Expr index = s.rank() == 3 ? ((v[3] * (int)s.dims[0] + v[0]) * (int)s.dims[1] + v[2]) *
                                             (int)s.dims[2] + v[1]
                                   : v[1] * (int)s.dims[0] + v[0];
        return select(random_uniform(key, index) >= p, x * (1.0f / (1.0f - p)), 0.0f);
    });
}

}  // namespace

const OpDef &op_dropout() {
    static const OpDef def = {
        .name = "dropout",
        .summary = "zeroes elements with probability p while training",
        .attrs = {float_attr("p", 0.5, Range::closed_open(0, 1), "probability of dropping an element")},
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_dropout,
        .schedule = schedule_elementwise,
    };
    return def;
}

}  // namespace netc
