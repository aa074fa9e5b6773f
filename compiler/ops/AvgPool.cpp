// avgpool: the mean over each window (torch.nn.AvgPool2d, count_include_pad=True).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

// out(c, x, y, n) = sum_{kx, ky} in(c, x*s + kx - p, y*s + ky - p, n) / k^2, padding = 0
OpLowering lower_avgpool(const LowerCtx &ctx) {
    const Dims &d = dims();
    int k = (int)ctx.attr_int("kernel"), pad = (int)ctx.attr_int("pad");
    int stride = (int)pool_stride(ctx.node.attrs);
    Func padded = pad_image(ctx.inputs[0], ctx.input_shape(), 0.0f);
    RDom r(0, k, 0, k, ctx.name("r"));
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) =
        sum(padded(d.c, d.x * stride + r.x - pad, d.y * stride + r.y - pad, d.n)) *
        (1.0f / (float)(k * k));
    return {out, {}, {}, {{"r", r}}};
}

void schedule_avgpool(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

// dL/dx(c, ix, iy, n) = sum of dy(c, ox, oy, n) / k^2 over the windows covering (ix, iy)
OpLowering lower_avgpool_grad(const LowerCtx &ctx) {
    const Dims &d = dims();
    int k = (int)ctx.attr_int("kernel"), pad = (int)ctx.attr_int("pad");
    int stride = (int)pool_stride(ctx.node.attrs);
    const Shape &out_shape = ctx.forward_node().shape;
    int oh = (int)out_shape.dims[1], ow = (int)out_shape.dims[2];
    const Func &dy = ctx.inputs[0];
    // Window ox starts at ox*s - p, so it covers ix for ox in ((ix + p - k) / s, (ix + p) / s]:
    // at most ceil(k / s) windows per axis, unrolled here (the window is small and static).
    int reach = (k + stride - 1) / stride;
    Expr total = 0.0f;
    for (int jy = 0; jy < reach; jy++) {
        for (int jx = 0; jx < reach; jx++) {
            Expr ox = (d.x + pad) / stride - jx, oy = (d.y + pad) / stride - jy;
            Expr covers = ox >= 0 && ox < ow && oy >= 0 && oy < oh && d.x + pad - ox * stride < k &&
                          d.y + pad - oy * stride < k;
            total += select(covers, dy(d.c, clamp(ox, 0, ow - 1), clamp(oy, 0, oh - 1), d.n), 0.0f);
        }
    }
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) = total * (1.0f / (float)(k * k));
    return {out, {}, {}, {}};
}

const OpDef &op_avgpool_grad() {
    static const OpDef def = {
        .name = "avgpool_grad",
        .summary = "dL/dx of avgpool: dy / k^2 spread over each window",
        .user_visible = false,
        .lower = lower_avgpool_grad,
        .schedule = schedule_avgpool,
        .flops = pool_window_flops,
    };
    return def;
}

// d/dx_i (sum_{j in window} x_j / k^2) = 1/k^2 for each window holding i (padding counts in k^2)
void backward_avgpool(BackwardCtx &ctx) {
    if (!ctx.needs_input_grad()) return;
    ctx.set_input_grad(0, ctx.emit(op_avgpool_grad(), {ctx.dy()}, ctx.x_shape(), "input"));
}

// AveragePool(x) over k x k windows, padding counted in the divisor as here
void onnx_avgpool(OnnxCtx &ctx) {
    const Attrs &a = ctx.node().attrs;
    int64_t k = a.get_int("kernel"), p = a.get_int("pad");
    int64_t s = pool_stride(a);
    ctx.emit("AveragePool", {ctx.x()},
             {OnnxAttr::ints("kernel_shape", {k, k}), OnnxAttr::ints("strides", {s, s}),
              OnnxAttr::ints("pads", {p, p, p, p}), OnnxAttr::i("count_include_pad", 1)});
}

// tosa.pad with zeros, then tosa.avg_pool2d without padding: TOSA's own padding is left out of
// the divisor, while here padded zeros count in the mean
void mlir_avgpool(MlirCtx &ctx) {
    const Attrs &a = ctx.node().attrs;
    int64_t k = a.get_int("kernel"), p = a.get_int("pad");
    int64_t s = pool_stride(a);
    MlirValue x = ctx.x();
    if (p > 0) {
        MlirValue padding = ctx.constant_ints("padding", {0, 0, p, p, p, p, 0, 0}, {4, 2});
        MlirType padded = x.type;
        padded.dims[1] += 2 * p;
        padded.dims[2] += 2 * p;
        x = ctx.emit("tosa.pad", {x, padding}, padded, {}, "padded");
    }
    ctx.emit("tosa.avg_pool2d", {x}, ctx.value_type(),
             {MlirAttr::ints("kernel", {k, k}), MlirAttr::ints("stride", {s, s}),
              MlirAttr::ints("pad", {0, 0, 0, 0})});
}

}  // namespace

const OpDef &op_avgpool() {
    static const OpDef def = {
        .name = "avgpool",
        .summary = "mean over square windows; padded zeros count in the mean",
        .attrs = pool_window_attrs(),
        .infer_shape = pool_shape,
        .reads_once = pool_reads_once,
        .lower = lower_avgpool,
        .schedule = schedule_avgpool,
        .backward = backward_avgpool,
        .flops = pool_window_flops,
        .onnx = onnx_avgpool,
        .mlir = mlir_avgpool,
    };
    return def;
}

}  // namespace netc
