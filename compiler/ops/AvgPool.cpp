// avgpool: the mean over each window (torch.nn.AvgPool2d, count_include_pad=True).
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

// out(c, x, y, n) = sum_{kx, ky} in(c, x*s + kx - p, y*s + ky - p, n) / k^2, padding = 0
OpLowering lower_avgpool(const LowerCtx &ctx) {
    const Dims &d = dims();
    int k = (int)ctx.attr_int("kernel"), pad = (int)ctx.attr_int("pad");
    int stride = ctx.node.attrs.has("stride") ? (int)ctx.attr_int("stride") : k;
    Func padded = pad_image(ctx.inputs[0], ctx.input_shape(), 0.0f);
    RDom r(0, k, 0, k, ctx.name("r"));
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) =
        sum(padded(d.c, d.x * stride + r.x - pad, d.y * stride + r.y - pad, d.n)) *
        (1.0f / (float)(k * k));
    return {out, {}, {}, {r}};
}

void schedule_avgpool(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

}  // namespace

const OpDef &op_avgpool() {
    static const OpDef def = {
        .name = "avgpool",
        .summary = "mean over square windows; padded zeros count in the mean",
        .attrs = pool_window_attrs(),
        .infer_shape = pool_shape,
        .lower = lower_avgpool,
        .schedule = schedule_avgpool,
    };
    return def;
}

}  // namespace netc
