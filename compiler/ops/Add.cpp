// add: elementwise sum of two or more values of one shape (residual connections).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> add_shape(const Node &, const std::vector<Shape> &in, std::string &error) {
    for (size_t i = 1; i < in.size(); i++) {
        if (in[i] != in[0]) {
            error = "add expects inputs of one shape; input 1 is " + in[0].str() + " but input " +
                    std::to_string(i + 1) + " is " + in[i].str();
            return std::nullopt;
        }
    }
    return in[0];
}

// out = in_1 + in_2 + ...
OpLowering lower_add(const LowerCtx &ctx) {
    std::vector<Var> v = value_vars(ctx.node.shape);
    std::vector<Expr> args(v.begin(), v.end());
    Expr total = ctx.inputs[0](args);
    for (size_t i = 1; i < ctx.inputs.size(); i++) total += ctx.inputs[i](args);
    Func out(ctx.node.name);
    out(v) = total;
    return {out, {}, {}, {}};
}

// d/dx_i (x_1 + x_2 + ...) = 1: every input receives dy itself, no node needed
void backward_add(BackwardCtx &ctx) {
    for (int i = 0; i < (int)ctx.node().inputs.size(); i++) {
        if (ctx.needs_input_grad(i)) ctx.set_input_grad(i, ctx.dy());
    }
}

// one addition per element per input after the first (also for summed gradient contributions)
double add_flops(const Graph &, const Node &node, int64_t batch) {
    return (double)(node.inputs.size() - 1) * (double)batch * (double)node.shape.elements();
}

// y = x_1 + x_2 + ...: a chain of Add
void onnx_add(OnnxCtx &ctx) {
    std::string total = ctx.x(0);
    for (int i = 1; i < ctx.input_count(); i++) {
        bool last = i == ctx.input_count() - 1;
        total = ctx.emit("Add", {total, ctx.x(i)}, {}, last ? "" : "sum" + std::to_string(i));
    }
}

// y = x_1 + x_2 + ...: a chain of tosa.add
void mlir_add(MlirCtx &ctx) {
    MlirValue total = ctx.x(0);
    for (int i = 1; i < ctx.input_count(); i++) {
        bool last = i == ctx.input_count() - 1;
        total = mlir_elementwise(ctx, "tosa.add", {total, ctx.x(i)},
                                 last ? "" : "sum" + std::to_string(i));
    }
}

}  // namespace

const OpDef &op_add() {
    static const OpDef def = {
        .name = "add",
        .summary = "elementwise sum of values of the same shape",
        .min_inputs = 2,
        .max_inputs = -1,
        .infer_shape = add_shape,
        .elementwise = true,
        .lower = lower_add,
        .schedule = schedule_elementwise,
        .backward = backward_add,
        .flops = add_flops,
        .onnx = onnx_add,
        .mlir = mlir_add,
    };
    return def;
}

}  // namespace netc
