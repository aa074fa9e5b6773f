// stochastic_depth: drops a whole residual branch while training (Huang et al. 2016,
// torchvision.ops.StochasticDepth): mode "row" zeroes each sample's value with probability p,
// mode "batch" the whole batch's at once, and what is kept is scaled by 1 / (1 - p); the
// identity in inference. Written on the branch before the `add` that joins it to the shortcut.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

/// x / (1 - p) where the draw keeps it, 0 where it drops it: u >= p, u uniform from
/// (seed, step, layer, sample's index in the step's global batch) in "row" mode, so a
/// data-parallel shard draws what one process would, and (seed, step, layer) in "batch" mode.
Expr apply_mask(const LowerCtx &ctx, Expr x, const std::vector<Expr> &v) {
    const Node &layer = ctx.forward_node();
    float p = (float)layer.attrs.get_float("p");
    Expr key = random_bits(ctx.rng_key, layer.id);
    Expr n = v.back() + ctx.sample_offset;  // v.back() is the batch dimension
    Expr draw = layer.attrs.get_enum("mode") == "row" ? n : Expr(0);
    return select(random_uniform(key, draw) >= p, x * (1.0f / (1.0f - p)), 0.0f);
}

// train: y = x * keep / (1 - p), keep ~ Bernoulli(1 - p) per sample (row) or per batch;
// infer: y = x
OpLowering lower_stochastic_depth(const LowerCtx &ctx) {
    if (ctx.mode == Mode::Infer || ctx.attr_float("p") == 0) {
        return lower_pointwise(ctx, [](Expr x, const std::vector<Expr> &) { return x; });
    }
    return lower_pointwise(
        ctx, [&](Expr x, const std::vector<Expr> &v) { return apply_mask(ctx, x, v); });
}

// dL/dx = keep * dy / (1 - p), the forward pass's draw (recomputed from its key)
OpLowering lower_stochastic_depth_grad(const LowerCtx &ctx) {
    return lower_pointwise_grad(ctx, [&](Expr dy, Expr, Expr, const std::vector<Expr> &v) {
        return ctx.attr_float("p") == 0 ? dy : apply_mask(ctx, dy, v);
    });
}

const OpDef &op_stochastic_depth_grad() {
    static const OpDef def =
        pointwise_grad_op("stochastic_depth_grad", lower_stochastic_depth_grad);
    return def;
}

void backward_stochastic_depth(BackwardCtx &ctx) {
    backward_pointwise(ctx, op_stochastic_depth_grad());
}

}  // namespace

const OpDef &op_stochastic_depth() {
    static const OpDef def = {
        .name = "stochastic_depth",
        .summary = "drops a residual branch per sample or per batch while training",
        .attrs = {float_attr("p", 0.1, Range::closed_open(0, 1),
                             "probability of dropping the branch"),
                  enum_attr("mode", "row", {"row", "batch"},
                            "row: one draw per sample; batch: one draw for the whole batch")},
        .infer_shape = same_shape,
        .elementwise = true,
        .lower = lower_stochastic_depth,
        .schedule = schedule_elementwise,
        .backward = backward_stochastic_depth,
        .flops = per_element_flops<1>,
        .onnx = onnx_identity,
        .mlir = mlir_identity,
    };
    return def;
}

}  // namespace netc
