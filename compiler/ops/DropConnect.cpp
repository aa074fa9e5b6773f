// DropConnect: the weight mask of dense and conv2d (compiler/ops/DropConnect.h).
#include "compiler/ops/DropConnect.h"

namespace netc {

using namespace Halide;

namespace {

double rate_of(const Node &layer) {
    return layer.attrs.has("dropconnect") ? layer.attrs.get_float("dropconnect") : 0.0;
}

}  // namespace

AttrSpec dropconnect_attr() {
    return optional_float_attr("dropconnect", Range::closed_open(0, 1),
                               "DropConnect: probability of dropping each weight while training "
                               "(one mask per step); default: none");
}

bool dropconnect_active(const LowerCtx &ctx) {
    return ctx.mode == Mode::Train && rate_of(ctx.forward_node()) > 0;
}

// kept (u >= p): 1 / (1 - p); dropped: 0, with u uniform from (seed, step, layer, element)
Expr dropconnect_scale(const LowerCtx &ctx, const Expr &index) {
    const Node &layer = ctx.forward_node();
    float p = (float)rate_of(layer);
    Expr key = random_bits(ctx.rng_key, layer.id);
    return select(random_uniform(key, index) >= p, 1.0f / (1.0f - p), 0.0f);
}

Expr dropconnect_weight(const LowerCtx &ctx, const Expr &w, const Expr &index) {
    return dropconnect_active(ctx) ? w * dropconnect_scale(ctx, index) : w;
}

double dropconnect_flops(const Node &layer, double weights) {
    return rate_of(layer) > 0 ? weights : 0.0;
}

}  // namespace netc
