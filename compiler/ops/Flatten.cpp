// flatten: [C, H, W] -> [C*H*W] in C-major order (torch.flatten(x, 1)), so dense weights
// transfer to and from PyTorch unchanged.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> flatten_shape(const Node &, const std::vector<Shape> &in, std::string &) {
    return Shape{{in[0].elements()}};
}

/// Whether the flatten only renames elements it reads in place: the pipeline's NCHW rows are
/// already the flattened input, and a flat input is its own flattening. The lowering reads them
/// directly and the schedule leaves the flatten inline, so no copy of the images is made.
bool reads_in_place(const Graph &graph, const Node &node) {
    return node.inputs[0] == 0 || graph.nodes[node.inputs[0]].shape.rank() == 1;
}

// out(i, n) = in(i / (H*W), i % W, (i / W) % H, n)
OpLowering lower_flatten(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &in = ctx.input_shape();
    Func out(ctx.node.name);
    if (ctx.node.inputs[0] == 0) {
        out(d.c, d.n) = ctx.images(d.c, d.n);
    } else if (in.rank() == 1) {
        out(d.c, d.n) = ctx.inputs[0](d.c, d.n);
    } else {
        int h = (int)in.dims[1], w = (int)in.dims[2];
        out(d.c, d.n) = ctx.inputs[0](d.c / (h * w), d.c % w, (d.c / w) % h, d.n);
    }
    return {out, {}, {}, {}};
}

void schedule_flatten(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    if (reads_in_place(ctx.graph, node) && !ctx.is_output) return;  // inline
    schedule_root(ctx, l.out, node.shape);
}

// dL/dx(c, x, y, n) = dy(c*H*W + y*W + x, n): the same elements, unflattened
OpLowering lower_flatten_grad(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &in = ctx.node.shape;
    Func out(ctx.node.name);
    if (in.rank() == 1) {
        out(d.c, d.n) = ctx.inputs[0](d.c, d.n);
    } else {
        int h = (int)in.dims[1], w = (int)in.dims[2];
        out(d.c, d.x, d.y, d.n) = ctx.inputs[0]((d.c * h + d.y) * w + d.x, d.n);
    }
    return {out, {}, {}, {}};
}

const OpDef &op_flatten_grad() {
    static const OpDef def = {
        .name = "flatten_grad",
        .summary = "dL/dx of flatten: dy reshaped",
        .user_visible = false,
        .lower = lower_flatten_grad,
        .schedule = schedule_flatten,
        .flops = no_flops,
    };
    return def;
}

void backward_flatten(BackwardCtx &ctx) {
    if (!ctx.needs_input_grad()) return;
    ctx.set_input_grad(0, ctx.emit(op_flatten_grad(), {ctx.dy()}, ctx.x_shape(), "input"));
}

// Flatten(x, axis=1): [N, C, H, W] -> [N, C*H*W] in the same order; a flat value is unchanged
void onnx_flatten(OnnxCtx &ctx) {
    if (ctx.x_shape().rank() == 1) return ctx.set_value(ctx.x());
    onnx_unary(ctx, "Flatten", {OnnxAttr::i("axis", 1)});
}

// [N, H, W, C] tosa.transpose'd back to [N, C, H, W], then tosa.reshape to [N, C*H*W]: the
// C-major order of netc and torch; a flat value is unchanged
void mlir_flatten(MlirCtx &ctx) {
    if (ctx.x_shape().rank() == 1) return ctx.set_value(ctx.x());
    MlirValue nchw = mlir_transpose(ctx, ctx.x(), {0, 3, 1, 2}, "nchw");
    mlir_reshape(ctx, nchw, ctx.value_type().dims);
}

}  // namespace

const OpDef &op_flatten() {
    static const OpDef def = {
        .name = "flatten",
        .summary = "flattens CxHxW to C*H*W in PyTorch's order",
        .infer_shape = flatten_shape,
        .lower = lower_flatten,
        .schedule = schedule_flatten,
        .backward = backward_flatten,
        .flops = no_flops,
        .onnx = onnx_flatten,
        .mlir = mlir_flatten,
    };
    return def;
}

}  // namespace netc
