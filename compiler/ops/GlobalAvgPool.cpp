// global_avgpool: the mean of each channel over all pixels, [C, H, W] -> [C].
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> global_avgpool_shape(const Node &, const std::vector<Shape> &in,
                                          std::string &error) {
    if (!expect_image(in[0], "global_avgpool", error)) return std::nullopt;
    return Shape{{in[0].dims[0]}};
}

// out(c, n) = sum_{x, y} in(c, x, y, n) / (H * W)
OpLowering lower_global_avgpool(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &in = ctx.input_shape();
    int h = (int)in.dims[1], w = (int)in.dims[2];
    RDom r(0, w, 0, h, ctx.name("r"));
    Func out(ctx.node.name);
    out(d.c, d.n) = sum(ctx.inputs[0](d.c, r.x, r.y, d.n)) * (1.0f / (float)(h * w));
    return {out, {}, {}, {{"r", r}}};
}

/// Each pixel is summed once (OpDef::reads_once): a relu before it is computed into the sums.
bool global_avgpool_reads_once(const Node &, int) { return true; }

void schedule_global_avgpool(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

// dL/dx(c, x, y, n) = dy(c, n) / (H * W)
OpLowering lower_global_avgpool_grad(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &in = ctx.node.shape;
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) = ctx.inputs[0](d.c, d.n) * (1.0f / (float)(in.dims[1] * in.dims[2]));
    return {out, {}, {}, {}};
}

const OpDef &op_global_avgpool_grad() {
    static const OpDef def = {
        .name = "global_avgpool_grad",
        .summary = "dL/dx of global_avgpool: dy spread evenly over the pixels",
        .user_visible = false,
        .lower = lower_global_avgpool_grad,
        .schedule = schedule_global_avgpool,
        .flops = per_element_flops<1>,
    };
    return def;
}

void backward_global_avgpool(BackwardCtx &ctx) {
    if (!ctx.needs_input_grad()) return;
    ctx.set_input_grad(0, ctx.emit(op_global_avgpool_grad(), {ctx.dy()}, ctx.x_shape(), "input"));
}

// GlobalAveragePool(x) [N, C, 1, 1], then Flatten to [N, C]
void onnx_global_avgpool(OnnxCtx &ctx) {
    std::string pooled = ctx.emit("GlobalAveragePool", {ctx.x()}, {}, "pooled");
    ctx.emit("Flatten", {pooled}, {OnnxAttr::i("axis", 1)});
}

// tosa.avg_pool2d over the whole image [N, 1, 1, C], then tosa.reshape to [N, C]
void mlir_global_avgpool(MlirCtx &ctx) {
    const std::vector<int64_t> &d = ctx.x().type.dims;  // [N, H, W, C]
    MlirValue pooled =
        ctx.emit("tosa.avg_pool2d", {ctx.x()}, {{d[0], 1, 1, d[3]}},
                 {MlirAttr::ints("kernel", {d[1], d[2]}), MlirAttr::ints("stride", {1, 1}),
                  MlirAttr::ints("pad", {0, 0, 0, 0})},
                 "pooled");
    mlir_reshape(ctx, pooled, ctx.value_type().dims);
}

}  // namespace

const OpDef &op_global_avgpool() {
    static const OpDef def = {
        .name = "global_avgpool",
        .summary = "mean of each channel over the whole image: CxHxW -> C",
        .infer_shape = global_avgpool_shape,
        .reads_once = global_avgpool_reads_once,
        .lower = lower_global_avgpool,
        .schedule = schedule_global_avgpool,
        .backward = backward_global_avgpool,
        .flops = per_input_element_flops<1>,
        .onnx = onnx_global_avgpool,
        .mlir = mlir_global_avgpool,
    };
    return def;
}

}  // namespace netc
