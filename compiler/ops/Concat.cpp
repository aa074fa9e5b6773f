// concat: joins values along the channel axis (torch.cat(xs, dim=1)).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

#include <algorithm>

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> concat_shape(const Node &, const std::vector<Shape> &in, std::string &error) {
    Shape out = in[0];
    for (size_t i = 1; i < in.size(); i++) {
        const Shape &a = in[0], &b = in[i];
        if (a.rank() != b.rank() ||
            !std::equal(a.dims.begin() + 1, a.dims.end(), b.dims.begin() + 1)) {
            error = "concat expects inputs that differ only in channels; input 1 is " + a.str() +
                    " but input " + std::to_string(i + 1) + " is " + b.str();
            return std::nullopt;
        }
        out.dims[0] += b.dims[0];
    }
    return out;
}

// out(c, ...) = in_k(c - offset_k, ...) for the input k whose channels hold c
OpLowering lower_concat(const LowerCtx &ctx) {
    std::vector<Var> v = value_vars(ctx.node.shape);
    Expr c = v[0];
    std::vector<Expr> rest(v.begin() + 1, v.end());
    Expr value;
    int end = (int)ctx.node.shape.dims[0];
    // Built from the last input backwards, so each select falls through to the later inputs.
    for (int i = (int)ctx.inputs.size() - 1; i >= 0; i--) {
        int channels = (int)ctx.input_shape(i).dims[0];
        int offset = end - channels;
        std::vector<Expr> args = {clamp(c - offset, 0, channels - 1)};
        args.insert(args.end(), rest.begin(), rest.end());
        Expr here = ctx.inputs[i](args);
        value = value.defined() ? select(c < end, here, value) : here;
        end = offset;
    }
    Func out(ctx.node.name);
    out(v) = value;
    return {out, {}, {}, {}};
}

void schedule_concat(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

// dL/dx_k(c, ...) = dy(c + offset_k, ...): input k's channels of dy
OpLowering lower_concat_grad(const LowerCtx &ctx) {
    std::vector<Var> v = value_vars(ctx.node.shape);
    std::vector<Expr> args(v.begin(), v.end());
    args[0] = v[0] + (int)ctx.attr_int("channel_offset");
    Func out(ctx.node.name);
    out(v) = ctx.inputs[0](args);
    return {out, {}, {}, {}};
}

const OpDef &op_concat_grad() {
    static const OpDef def = {
        .name = "concat_grad",
        .summary = "dL/dx_k of concat: input k's channels of dy",
        .user_visible = false,
        .lower = lower_concat_grad,
        .schedule = schedule_concat,
        .flops = no_flops,
    };
    return def;
}

// d/dx_k concat(x_1, x_2, ...) selects x_k's channels: each input gets its slice of dy
void backward_concat(BackwardCtx &ctx) {
    int offset = 0;
    for (int i = 0; i < (int)ctx.node().inputs.size(); i++) {
        int channels = (int)ctx.x_shape(i).dims[0];
        if (ctx.needs_input_grad(i)) {
            int id =
                ctx.emit(op_concat_grad(), {ctx.dy()}, ctx.x_shape(i), "input" + std::to_string(i));
            ctx.set_attr(id, "channel_offset", offset);
            ctx.set_input_grad(i, id);
        }
        offset += channels;
    }
}

// Concat(x_1, x_2, ...) along the channels, axis 1 of [N, C, ...]
void onnx_concat(OnnxCtx &ctx) {
    std::vector<std::string> inputs;
    for (int i = 0; i < ctx.input_count(); i++) inputs.push_back(ctx.x(i));
    ctx.emit("Concat", inputs, {OnnxAttr::i("axis", 1)});
}

// tosa.concat along the channels: the last axis of [N, H, W, C] or [N, F]
void mlir_concat(MlirCtx &ctx) {
    std::vector<MlirValue> inputs;
    for (int i = 0; i < ctx.input_count(); i++) inputs.push_back(ctx.x(i));
    int64_t axis = (int64_t)ctx.x().type.dims.size() - 1;
    ctx.emit("tosa.concat", inputs, ctx.value_type(), {MlirAttr::i64("axis", axis)});
}

}  // namespace

const OpDef &op_concat() {
    static const OpDef def = {
        .name = "concat",
        .summary = "joins values along the channel axis",
        .min_inputs = 2,
        .max_inputs = -1,
        .infer_shape = concat_shape,
        .lower = lower_concat,
        .schedule = schedule_concat,
        .backward = backward_concat,
        .flops = no_flops,
        .onnx = onnx_concat,
        .mlir = mlir_concat,
    };
    return def;
}

}  // namespace netc
