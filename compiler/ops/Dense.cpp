// dense: y = x W^T + b, a fully connected layer (torch.nn.Linear); with `dropconnect=p`, W is
// masked while training (compiler/ops/DropConnect.h).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"
#include "compiler/ops/DropConnect.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> dense_shape(const Node &node, const std::vector<Shape> &in,
                                 std::string &error) {
    if (in[0].rank() != 1) {
        error = "dense expects a flat input F, got " + in[0].str() +
                "; insert 'flatten' (or 'global_avgpool') before it";
        return std::nullopt;
    }
    return Shape{{node.attrs.get_int("units")}};
}

std::vector<ParamSpec> dense_params(const Node &node, const std::vector<Shape> &in) {
    int64_t units = node.attrs.get_int("units");
    std::vector<ParamSpec> p = {
        {"weight", Shape{{units, in[0].dims[0]}}, node.attrs.get_init("init"), ParamRole::Weight}};
    if (node.attrs.get_bool("bias")) {
        p.push_back({"bias", Shape{{units}}, node.attrs.get_init("bias_init"), ParamRole::Bias});
    }
    return p;
}

// out(c, n) = sum_i W[c, i] * in(i, n) + b[c], W masked by DropConnect while training
OpLowering lower_dense(const LowerCtx &ctx) {
    const Dims &d = dims();
    int inputs = (int)ctx.input_shape().dims[0];
    Var i("i");
    Func weight_t(ctx.name("weight_t"));  // W transposed: output units innermost, to vectorize
    weight_t(d.c, i) = dropconnect_weight(ctx, ctx.param("weight", {d.c, i}), d.c * inputs + i);
    RDom r(0, inputs, ctx.name("r"));
    Func acc(ctx.name("acc"));
    acc(d.c, d.n) = ctx.has_param("bias") ? ctx.param("bias", {d.c}) : 0.0f;
    acc(d.c, d.n) += weight_t(d.c, r) * ctx.inputs[0](r, d.n);
    Func out(ctx.node.name);
    out(d.c, d.n) = acc(d.c, d.n);
    return {out, {{"weight_t", weight_t}, {"acc", acc}}, {}, {{"r", r}}};
}

void schedule_dense(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    Func weight_t = l.stage("weight_t"), acc = l.stage("acc");
    int width = ctx.vector_width;
    weight_t.compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf);
    schedule_root(ctx, l.out, node.shape);
    acc.compute_at(l.out, d.n).vectorize(d.c, width, TailStrategy::GuardWithIf);
    RVar r = l.reduction("r").x;
    acc.update().reorder(d.c, r, d.n).vectorize(d.c, width, TailStrategy::GuardWithIf);
}

// dL/dx(i, n) = sum_o W[o, i] * dy(o, n), with the forward pass's masked W under DropConnect
OpLowering lower_dense_grad_input(const LowerCtx &ctx) {
    const Dims &d = dims();
    int units = (int)ctx.forward_node().shape.dims[0];
    int inputs = (int)ctx.node.shape.dims[0];
    Var o("o");
    Func weight(ctx.name("weight"));  // W as stored: inputs innermost, to vectorize over them
    weight(d.c, o) = dropconnect_weight(ctx, ctx.param("weight", {o, d.c}), o * inputs + d.c);
    RDom r(0, units, ctx.name("r"));
    Func acc(ctx.name("acc"));
    acc(d.c, d.n) = 0.0f;
    acc(d.c, d.n) += weight(d.c, r) * ctx.inputs[0](r, d.n);
    Func out(ctx.node.name);
    out(d.c, d.n) = acc(d.c, d.n);
    return {out, {{"weight_t", weight}, {"acc", acc}}, {}, {{"r", r}}};
}

// dL/dW[o, i] = sum_n dy(o, n) * x(i, n), as (i0 = i, i1 = o); under DropConnect
// (W' = W * mask / (1 - p)) dL/dW = mask / (1 - p) * dL/dW'
OpLowering lower_dense_grad_weight(const LowerCtx &ctx) {
    const Dims &d = dims();
    int inputs = (int)ctx.input_shape(1).dims[0];
    RDom r(0, ctx.batch, ctx.name("r"));
    Func acc(ctx.name("acc"));
    acc(d.i0, d.i1) = 0.0f;
    acc(d.i0, d.i1) += ctx.inputs[0](d.i1, r) * ctx.inputs[1](d.i0, r);
    Func out(ctx.node.name);
    out(d.i0, d.i1) = dropconnect_active(ctx)
                          ? acc(d.i0, d.i1) * dropconnect_scale(ctx, d.i1 * inputs + d.i0)
                          : Expr(acc(d.i0, d.i1));
    return {out, {{"acc", acc}}, {}, {{"r", r}}};
}

void schedule_dense_grad_weight(const ScheduleCtx &ctx, const Node &, OpLowering &l) {
    const Dims &d = dims();
    Func acc = l.stage("acc");
    int width = ctx.vector_width;
    l.out.compute_root().vectorize(d.i0, width, TailStrategy::GuardWithIf).parallel(d.i1);
    acc.compute_at(l.out, d.i1).vectorize(d.i0, width, TailStrategy::GuardWithIf);
    acc.update()
        .reorder(d.i0, l.reduction("r").x, d.i1)
        .vectorize(d.i0, width, TailStrategy::GuardWithIf);
}

/// Multiply-adds of the dense node `dense` (a forward node) over the batch: N * units * inputs.
double dense_multiply_adds(const Graph &graph, const Node &dense, int64_t batch) {
    double inputs = (double)graph.nodes[dense.inputs[0]].shape.elements();
    return (double)batch * (double)dense.shape.elements() * inputs;
}

// 2 per multiply-add, 1 per output for the bias
double dense_flops(const Graph &graph, const Node &node, int64_t batch) {
    double bias = node.attrs.get_bool("bias") ? (double)batch * (double)node.shape.elements() : 0;
    return 2 * dense_multiply_adds(graph, node, batch) + bias;
}

/// The DropConnect masks of a training step on the weight of `dense`: 1 per weight element each.
double dense_mask_flops(const Graph &graph, const Node &dense, int masks) {
    double weights =
        (double)dense.shape.elements() * (double)graph.nodes[dense.inputs[0]].shape.elements();
    return masks * dropconnect_flops(dense, weights);
}

// dx = dy W: as many multiply-adds as the forward, and dx's DropConnect mask
double dense_grad_input_flops(const Graph &graph, const Node &node, int64_t batch) {
    const Node &dense = graph.nodes[node.forward];
    return 2 * dense_multiply_adds(graph, dense, batch) + dense_mask_flops(graph, dense, 1);
}

// dW = dy^T x: as many multiply-adds as the forward, and dW's and the forward's DropConnect masks
double dense_grad_weight_flops(const Graph &graph, const Node &node, int64_t batch) {
    const Node &dense = graph.nodes[node.forward];
    return 2 * dense_multiply_adds(graph, dense, batch) + dense_mask_flops(graph, dense, 2);
}

const OpDef &op_dense_grad_input() {
    static const OpDef def = {
        .name = "dense_grad_input",
        .summary = "dL/dx of dense: dy W",
        .user_visible = false,
        .lower = lower_dense_grad_input,
        .schedule = schedule_dense,
        .flops = dense_grad_input_flops,
    };
    return def;
}

const OpDef &op_dense_grad_weight() {
    static const OpDef def = {
        .name = "dense_grad_weight",
        .summary = "dL/dW of dense: dy^T x",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .lower = lower_dense_grad_weight,
        .schedule = schedule_dense_grad_weight,
        .flops = dense_grad_weight_flops,
    };
    return def;
}

// y = x W^T + b:  dx = dy W,  dW = dy^T x,  db = sum_n dy
void backward_dense(BackwardCtx &ctx) {
    if (ctx.needs_input_grad()) {
        ctx.set_input_grad(0, ctx.emit(op_dense_grad_input(), {ctx.dy()}, ctx.x_shape(), "input"));
    }
    ctx.emit_param_grad(op_dense_grad_weight(), {ctx.dy(), ctx.x()}, "weight");
    if (ctx.node().attrs.get_bool("bias")) ctx.emit_param_grad(op_bias_grad(), {ctx.dy()}, "bias");
}

// Gemm(x, W, b, transB=1): x [N, F], W [units, F] as torch has it; DropConnect is training only
void onnx_dense(OnnxCtx &ctx) {
    std::vector<std::string> inputs = {ctx.x(), ctx.param("weight")};
    if (ctx.node().attrs.get_bool("bias")) inputs.push_back(ctx.param("bias"));
    ctx.emit("Gemm", inputs, {OnnxAttr::i("transB", 1)});
}

// tosa.fully_connected(x [N, F], W [units, F], b [units]), the torch layout as it is; without a
// bias, a bias of zeros (TOSA's takes one)
void mlir_dense(MlirCtx &ctx) {
    int64_t units = ctx.node().attrs.get_int("units");
    MlirValue b = ctx.node().attrs.get_bool("bias")
                      ? ctx.param("bias")
                      : ctx.constant("zero_bias", std::vector<float>(units, 0.0f), {units});
    ctx.emit("tosa.fully_connected", {ctx.x(), ctx.param("weight"), b}, ctx.value_type());
}

}  // namespace

const OpDef &op_dense() {
    static const OpDef def = {
        .name = "dense",
        .summary = "fully connected layer: y = x W^T + b",
        .attrs = with_weight_attrs({
            required_int_attr("units", Range::at_least(1), "number of outputs"),
            bool_attr("bias", true, "add a learned bias"),
            dropconnect_attr(),
        }),
        .infer_shape = dense_shape,
        .params = dense_params,
        .lower = lower_dense,
        .schedule = schedule_dense,
        .backward = backward_dense,
        .flops = dense_flops,
        .onnx = onnx_dense,
        .mlir = mlir_dense,
    };
    return def;
}

}  // namespace netc
