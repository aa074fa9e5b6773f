// maxpool: the maximum over each window (torch.nn.MaxPool2d); padding never wins.
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// out(c, x, y, n) = max_{kx, ky} in(c, x*s + kx - p, y*s + ky - p, n), padding = -inf
OpLowering lower_maxpool(const LowerCtx &ctx) {
    const Dims &d = dims();
    int k = (int)ctx.attr_int("kernel"), pad = (int)ctx.attr_int("pad");
    int stride = ctx.node.attrs.has("stride") ? (int)ctx.attr_int("stride") : k;
    Func padded = pad_image(ctx.inputs[0], ctx.input_shape(), Float(32).min());
    RDom r(0, k, 0, k, ctx.name("r"));
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) =
        maximum(padded(d.c, d.x * stride + r.x - pad, d.y * stride + r.y - pad, d.n));
    return {out, {}, {}, {r}};
}

void schedule_maxpool(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

}  // namespace

const OpDef &op_maxpool() {
    static const OpDef def = {
        .name = "maxpool",
        .summary = "maximum over square windows",
        .attrs = pool_window_attrs(),
        .infer_shape = pool_shape,
        .lower = lower_maxpool,
        .schedule = schedule_maxpool,
    };
    return def;
}

}  // namespace netc
