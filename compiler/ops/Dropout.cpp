// dropout: in training, zeroes each element with probability p and scales the rest by
// 1 / (1 - p) (inverted dropout, torch.nn.Dropout); the identity in inference.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

/// x / (1 - p) where the element is kept, 0 where dropped: u >= p, u uniform from
/// (seed, step, layer, element index in NCHW order within the step's global batch), so a
/// data-parallel shard draws the masks one process would.
Expr apply_mask(const LowerCtx &ctx, Expr x, const std::vector<Expr> &v) {
    const Node &layer = ctx.forward_node();
    const Shape &s = layer.shape;
    float p = (float)layer.attrs.get_float("p");
    Expr key = random_bits(ctx.rng_key, layer.id);
    Expr n = (s.rank() == 3 ? v[3] : v[1]) + ctx.sample_offset;
    Expr index = s.rank() == 3
                     ? ((n * (int)s.dims[0] + v[0]) * (int)s.dims[1] + v[2]) * (int)s.dims[2] + v[1]
                     : n * (int)s.dims[0] + v[0];
    return select(random_uniform(key, index) >= p, x * (1.0f / (1.0f - p)), 0.0f);
}

// train: y = mask * x / (1 - p);  infer: y = x
OpLowering lower_dropout(const LowerCtx &ctx) {
    if (ctx.mode == Mode::Infer || ctx.attr_float("p") == 0) {
        return lower_pointwise(ctx, [](Expr x, const std::vector<Expr> &) { return x; });
    }
    return lower_pointwise(
        ctx, [&](Expr x, const std::vector<Expr> &v) { return apply_mask(ctx, x, v); });
}

// dL/dx = mask * dy / (1 - p), the same mask as the forward pass (recomputed from its key)
OpLowering lower_dropout_grad(const LowerCtx &ctx) {
    return lower_pointwise_grad(ctx, [&](Expr dy, Expr, Expr, const std::vector<Expr> &v) {
        return ctx.attr_float("p") == 0 ? dy : apply_mask(ctx, dy, v);
    });
}

const OpDef &op_dropout_grad() {
    static const OpDef def = pointwise_grad_op("dropout_grad", lower_dropout_grad);
    return def;
}

void backward_dropout(BackwardCtx &ctx) { backward_pointwise(ctx, op_dropout_grad()); }

}  // namespace

const OpDef &op_dropout() {
    static const OpDef def = {
        .name = "dropout",
        .summary = "zeroes elements with probability p while training",
        .attrs = {float_attr("p", 0.5, Range::closed_open(0, 1),
                             "probability of dropping an element")},
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_dropout,
        .schedule = schedule_elementwise,
        .backward = backward_dropout,
        .flops = per_element_flops<1>,
        .onnx = onnx_identity,
        .mlir = mlir_identity,
    };
    return def;
}

}  // namespace netc
