// maxout: y_c = max_k x_{c*pieces + k}, the maximum over groups of `pieces` consecutive
// channels (Goodfellow et al. 2013); C channels become C / pieces.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> maxout_shape(const Node &node, const std::vector<Shape> &in,
                                  std::string &error) {
    int64_t pieces = node.attrs.get_int("pieces");
    Shape out = in[0];
    if (out.dims[0] % pieces != 0) {
        error = "maxout with pieces=" + std::to_string(pieces) + " needs channels divisible by " +
                std::to_string(pieces) + ", got " + in[0].str();
        return std::nullopt;
    }
    out.dims[0] /= pieces;
    return out;
}

// out(c, ...) = max_k in(c * pieces + k, ...)
OpLowering lower_maxout(const LowerCtx &ctx) {
    int pieces = (int)ctx.attr_int("pieces");
    std::vector<Var> v = value_vars(ctx.node.shape);
    std::vector<Expr> args(v.begin(), v.end());
    Expr best;
    for (int k = 0; k < pieces; k++) {
        args[0] = v[0] * pieces + k;
        Expr piece = ctx.inputs[0](args);
        best = best.defined() ? max(best, piece) : piece;
    }
    Func out(ctx.node.name);
    out(v) = best;
    return {out, {}, {}, {}};
}

void schedule_maxout(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

// dL/dx(c*pieces + k, ...) = k == first argmax_j x(c*pieces + j, ...) ? dy(c, ...) : 0
OpLowering lower_maxout_grad(const LowerCtx &ctx) {
    int pieces = (int)ctx.attr_int("pieces");
    const Func &dy = ctx.inputs[0], &x = ctx.inputs[1];
    std::vector<Var> v = value_vars(ctx.node.shape);
    std::vector<Expr> args(v.begin(), v.end());
    // The piece that won each output: the first maximum, as the forward max keeps it.
    Func winner(ctx.name("winner"));
    args[0] = v[0] * pieces;
    Expr best = x(args), best_k = 0;
    for (int k = 1; k < pieces; k++) {
        args[0] = v[0] * pieces + k;
        Expr piece = x(args);
        best_k = select(piece > best, k, best_k);
        best = max(best, piece);
    }
    winner(v) = best_k;
    std::vector<Expr> group(v.begin(), v.end());
    group[0] = v[0] / pieces;
    Func out(ctx.node.name);
    out(v) = select(v[0] % pieces == winner(group), dy(group), 0.0f);
    return {out, {{"winner", winner}}, {}, {}};
}

void schedule_maxout_grad(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    Shape groups = node.shape;
    groups.dims[0] /= ctx.graph.nodes[node.forward].attrs.get_int("pieces");
    schedule_root(ctx, l.stage("winner"), groups);
    schedule_root(ctx, l.out, node.shape);
}

const OpDef &op_maxout_grad() {
    static const OpDef def = {
        .name = "maxout_grad",
        .summary = "dL/dx of maxout: dy routed to each group's (first) maximum",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .lower = lower_maxout_grad,
        .schedule = schedule_maxout_grad,
        .flops = per_element_flops<1>,
    };
    return def;
}

// d/dx_i max_j x_j = 1[i is the (first) argmax]
void backward_maxout(BackwardCtx &ctx) {
    if (!ctx.needs_input_grad()) return;
    ctx.set_input_grad(0, ctx.emit(op_maxout_grad(), {ctx.dy(), ctx.x()}, ctx.x_shape(), "input"));
}

// Reshape [N, C, ...] to [N, C/pieces, pieces, ...], ReduceMax over the pieces (axis 2, kept as
// 1: OpenCV 4.6 loses the rank of a ReduceMax that drops it), and Reshape to [N, C/pieces, ...]
void onnx_maxout(OnnxCtx &ctx) {
    int64_t pieces = ctx.node().attrs.get_int("pieces");
    const Shape &in = ctx.x_shape();
    std::vector<int64_t> grouped = {0, in.dims[0] / pieces, pieces};  // 0: N as it is
    grouped.insert(grouped.end(), in.dims.begin() + 1, in.dims.end());
    std::string shape = ctx.constant_ints("groups_shape", grouped, {(int64_t)grouped.size()});
    std::string groups = ctx.emit("Reshape", {ctx.x(), shape}, {}, "groups");
    std::string best = ctx.emit("ReduceMax", {groups},
                                {OnnxAttr::ints("axes", {2}), OnnxAttr::i("keepdims", 1)}, "max");
    std::vector<int64_t> dims = {0};
    dims.insert(dims.end(), ctx.node().shape.dims.begin(), ctx.node().shape.dims.end());
    ctx.emit("Reshape", {best, ctx.constant_ints("value_shape", dims, {(int64_t)dims.size()})});
}

// [N, H, W, C] (or [N, F]) tosa.reshape'd to [N, pixels, C/pieces, pieces], tosa.reduce_max over
// the pieces (axis 3, kept as 1: TOSA 14 reduces tensors of rank 4 at most), and reshaped back
void mlir_maxout(MlirCtx &ctx) {
    int64_t pieces = ctx.node().attrs.get_int("pieces");
    const std::vector<int64_t> &d = ctx.x().type.dims;
    int64_t n = d[0], c = d.back(), pixels = 1;
    for (size_t i = 1; i + 1 < d.size(); i++) pixels *= d[i];
    MlirValue groups = mlir_reshape(ctx, ctx.x(), {n, pixels, c / pieces, pieces}, "groups");
    MlirValue best = ctx.emit("tosa.reduce_max", {groups}, {{n, pixels, c / pieces, 1}},
                              {MlirAttr::i64("axis", 3)}, "max");
    mlir_reshape(ctx, best, ctx.value_type().dims);
}

}  // namespace

const OpDef &op_maxout() {
    static const OpDef def = {
        .name = "maxout",
        .summary = "maximum over groups of consecutive channels: C -> C / pieces",
        .attrs = {required_int_attr("pieces", Range::at_least(2), "channels per group")},
        .infer_shape = maxout_shape,
        .lower = lower_maxout,
        .schedule = schedule_maxout,
        .backward = backward_maxout,
        .flops = per_input_element_flops<1>,
        .onnx = onnx_maxout,
        .mlir = mlir_maxout,
    };
    return def;
}

}  // namespace netc
