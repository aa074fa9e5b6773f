// maxpool: the maximum over each window (torch.nn.MaxPool2d); padding never wins.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

// out(c, x, y, n) = max_{kx, ky} in(c, x*s + kx - p, y*s + ky - p, n), padding = -inf
OpLowering lower_maxpool(const LowerCtx &ctx) {
    const Dims &d = dims();
    int k = (int)ctx.attr_int("kernel"), pad = (int)ctx.attr_int("pad");
    int stride = (int)pool_stride(ctx.node.attrs);
    Func padded = pad_image(ctx.inputs[0], ctx.input_shape(), Float(32).min());
    RDom r(0, k, 0, k, ctx.name("r"));
    Func out(ctx.node.name);
    Expr tap = padded(d.c, d.x * stride + r.x - pad, d.y * stride + r.y - pad, d.n);
    if (ctx.mode == Mode::Infer) {
        out(d.c, d.x, d.y, d.n) = maximum(tap);
        return {out, {}, {}, {{"r", r}}};
    }
    // Training keeps where each maximum came from (the first in row-major window order, as
    // PyTorch picks among ties), for the backward pass.
    Func where(ctx.name("argmax"));
    where(d.c, d.x, d.y, d.n) = argmax(tap);
    out(d.c, d.x, d.y, d.n) = where(d.c, d.x, d.y, d.n)[2];
    return {out, {{"argmax", where}}, {{"argmax", where}}, {{"r", r}}};
}

void schedule_maxpool(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    if (l.has_stage("argmax")) schedule_root(ctx, l.stage("argmax"), node.shape);
    schedule_root(ctx, l.out, node.shape);
}

// dL/dx(c, ix, iy, n) = sum of dy(c, ox, oy, n) over the windows whose maximum was at (ix, iy)
OpLowering lower_maxpool_grad(const LowerCtx &ctx) {
    const Dims &d = dims();
    int k = (int)ctx.attr_int("kernel"), pad = (int)ctx.attr_int("pad");
    int stride = (int)pool_stride(ctx.node.attrs);
    const Shape &out_shape = ctx.forward_node().shape;
    int oh = (int)out_shape.dims[1], ow = (int)out_shape.dims[2];
    Func where = ctx.saved("argmax");
    Func dy = ctx.inputs[0];
    // The windows covering ix start at ox*s - p in (ix - k, ix]: at most ceil(k/s) per axis.
    int reach = (k + stride - 1) / stride;
    RDom j(0, reach, 0, reach, ctx.name("j"));
    Expr ox = (d.x + pad) / stride - j.x, oy = (d.y + pad) / stride - j.y;
    Expr cx = clamp(ox, 0, ow - 1), cy = clamp(oy, 0, oh - 1);
    Tuple at = where(d.c, cx, cy, d.n);
    Expr hit = ox >= 0 && ox < ow && oy >= 0 && oy < oh &&
               cast<int>(at[0]) == d.x - (ox * stride - pad) &&
               cast<int>(at[1]) == d.y - (oy * stride - pad);
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) = sum(select(hit, dy(d.c, cx, cy, d.n), 0.0f));
    return {out, {}, {}, {{"j", j}}};
}

void schedule_maxpool_grad(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

const OpDef &op_maxpool_grad() {
    static const OpDef def = {
        .name = "maxpool_grad",
        .summary = "dL/dx of maxpool: dy routed to each window's maximum",
        .user_visible = false,
        .lower = lower_maxpool_grad,
        .schedule = schedule_maxpool_grad,
        .flops = pool_window_flops,
    };
    return def;
}

// d/dx_i max_j x_j = 1[i is the (first) argmax]
void backward_maxpool(BackwardCtx &ctx) {
    if (!ctx.needs_input_grad()) return;
    ctx.set_input_grad(0, ctx.emit(op_maxpool_grad(), {ctx.dy()}, ctx.x_shape(), "input"));
}

// MaxPool(x) over k x k windows; ONNX pads never win a maximum either
void onnx_maxpool(OnnxCtx &ctx) {
    const Attrs &a = ctx.node().attrs;
    int64_t k = a.get_int("kernel"), p = a.get_int("pad");
    int64_t s = pool_stride(a);
    ctx.emit("MaxPool", {ctx.x()},
             {OnnxAttr::ints("kernel_shape", {k, k}), OnnxAttr::ints("strides", {s, s}),
              OnnxAttr::ints("pads", {p, p, p, p})});
}

// tosa.max_pool2d, NHWC; its padding never wins a maximum, as here
void mlir_maxpool(MlirCtx &ctx) {
    const Attrs &a = ctx.node().attrs;
    int64_t k = a.get_int("kernel"), p = a.get_int("pad");
    int64_t s = pool_stride(a);
    mlir_unary(ctx, "tosa.max_pool2d",
               {MlirAttr::ints("kernel", {k, k}), MlirAttr::ints("stride", {s, s}),
                MlirAttr::ints("pad", {p, p, p, p})});
}

}  // namespace

const OpDef &op_maxpool() {
    static const OpDef def = {
        .name = "maxpool",
        .summary = "maximum over square windows",
        .attrs = pool_window_attrs(),
        .infer_shape = pool_shape,
        .reads_once = pool_reads_once,
        .lower = lower_maxpool,
        .schedule = schedule_maxpool,
        .backward = backward_maxpool,
        .flops = pool_window_flops,
        .onnx = onnx_maxpool,
        .mlir = mlir_maxpool,
    };
    return def;
}

}  // namespace netc
