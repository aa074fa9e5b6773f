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

// The three products of a dense layer are register-tiled matrix products: the gradients'
// (schedule_product) vectors of one operand by broadcasts of the other, the forward's dot
// products (schedule_dense). A tile computes whole blocks of accumulators, past the last unit or
// sample where the sizes do not divide, so the products' reads are clamped into the operands:
// the rows and columns past the end repeat the last one, and what they compute is never stored.

// The forward product is a product of dot products: W is stored [units, inputs], inputs
// innermost as the samples are, so both operands are read along the reduction in place. Lanes
// of partial sums run along the inputs (dot_lanes of them), a tile of units x samples of them is
// held in registers, and each output adds its lanes up once at the end. The inputs past the last
// whole group of lanes are added one by one.
constexpr int dot_lanes = 16;  // one AVX-512 vector, two AVX2 ones
// Below this many samples a call (batch 1 above all) the product is a matrix-vector one, which
// schedule_dense tiles over units alone, where a tile of several samples would repeat the one
// sample's FMAs.
constexpr int few_samples = 4;

// out(c, n) = sum_i W[c, i] * in(i, n) + b[c], W masked by DropConnect while training
OpLowering lower_dense(const LowerCtx &ctx) {
    const Dims &d = dims();
    int inputs = (int)ctx.input_shape().dims[0];
    int units = (int)ctx.node.shape.dims[0];
    Expr c = min(d.c, units - 1), n = min(d.n, ctx.batch - 1);
    auto product = [&](Expr i) {
        return dropconnect_weight(ctx, ctx.param("weight", {c, i}), c * inputs + i) *
               ctx.inputs[0](i, n);
    };
    const int groups = inputs / dot_lanes, rest = inputs - groups * dot_lanes;
    Var lane("lane");
    Expr total = ctx.has_param("bias") ? ctx.param("bias", {c}) : 0.0f;
    OpLowering l;
    if (groups > 0) {
        Func lanes(ctx.name("lanes"));  // lanes(lane, c, n): partial dot products
        RDom r(0, groups, ctx.name("r"));
        lanes(lane, d.c, d.n) = 0.0f;
        lanes(lane, d.c, d.n) += product(r * dot_lanes + lane);
        RDom k(0, dot_lanes, ctx.name("k"));
        total += sum(lanes(k, d.c, d.n));
        l.stages["lanes"] = lanes;
        l.conditions["few_samples"] = ctx.batch < few_samples;
        l.reductions["r"] = r;
    }
    if (rest > 0) {
        RDom t(groups * dot_lanes, rest, ctx.name("t"));
        total += sum(product(t));
    }
    l.out = Func(ctx.node.name);
    l.out(d.c, d.n) = total;
    return l;
}

/// Accumulators of a register tile of a matrix product: `cols` (vectors of the target's width)
/// by `rows` (each a broadcast operand).
struct ProductTile {
    int cols, rows;
};

// AVX-512 has 32 vector registers: 2 x 8 accumulators, 2 loads and the broadcasts; AVX2 has 16:
// 2 x 4. Each step of the reduction is then 16 (8) FMAs for 2 vector loads. Measured on a 2-core
// Zen 5 (AVX-512), netc bench train img/s, one vector of units per sample before -> these tiles:
// bench/models/wide_mlp 4,090 -> 11,705-17,164, fashion_mlp 28,570 -> 102,982-110,440,
// fashion_linear 99,932 -> 420,649-461,191 (all three products so then, the forward's over a
// transposed copy of W made every call). The AVX2 tile is not measured: no AVX2-only machine.
ProductTile product_tile(const ScheduleCtx &ctx) {
    return {2 * ctx.vector_width, ctx.vector_width >= 16 ? 8 : 4};
}

/// out(col, row) = acc(col, row), acc summing a(col, r) * b(r, row) over `r` with its reads
/// clamped (above): tiles of product_tile(ctx) accumulators held in registers over the whole
/// reduction, vectors along `col`. One task per block of columns; per block of rows where the
/// columns (`cols` of them) make fewer blocks than the rows could.
void schedule_product(const ScheduleCtx &ctx, Func out, Func acc, Var col, Var row, RVar r,
                      int cols) {
    const int width = ctx.vector_width;
    const ProductTile tile = product_tile(ctx);
    Var co("co"), ci("ci"), ro("ro"), ri("ri");
    const bool by_columns = cols > 2 * tile.cols;
    out.compute_root()
        .split(col, co, ci, tile.cols, TailStrategy::GuardWithIf)
        .split(row, ro, ri, tile.rows, TailStrategy::GuardWithIf)
        .vectorize(ci, width, TailStrategy::GuardWithIf);
    if (by_columns) {
        out.reorder(ci, ri, ro, co).parallel(co);
    } else {
        out.reorder(ci, ri, co, ro).parallel(ro);
    }
    acc.compute_at(out, by_columns ? ro : co)
        .bound_extent(col, tile.cols)
        .bound_extent(row, tile.rows)
        .vectorize(col, width)
        .unroll(col)
        .unroll(row);
    acc.update().reorder(col, row, r).vectorize(col, width).unroll(col).unroll(row);
}

// Tiles of units x samples of lanes: AVX-512 holds 4 x 4 accumulators, 4 + 4 loads a step; AVX2,
// with 16 registers and two of them per group of lanes, 2 x 2. Measured on a 2-core Zen 5
// (AVX-512), netc bench, a transposed copy of W with the broadcast tiles of schedule_product and
// the images copied twice -> these with the images read in place (LowerForward.cpp):
// fashion_linear train 0.56 -> 2.84-2.89 M img/s, predict 0.61 -> 4.4-5.1 M, batch-1 0.014 ->
// 0.001-0.002 ms; fashion_mlp 99 -> 113-120 k, 235 -> 260-303 k, 0.056 -> 0.025-0.028 ms;
// bench/models/wide_mlp 11.8 -> 17.0-17.6 k, 33 -> 54-56 k, 1.24 -> 0.085-0.119 ms. The AVX2
// tiles, emulated there (HL_JIT_TARGET=x86-64-linux-avx-avx2-f16c-fma-sse41): 2.4 M, 80 k and
// 10 k train img/s.
void schedule_dense(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    const int units = (int)node.shape.dims[0];
    const int tile = ctx.vector_width >= 16 ? 4 : 2;
    Var co("co"), ci("ci"), no("no"), ni("ni");
    Func out = l.out;
    out.compute_root();
    if (!l.has_stage("lanes")) {  // fewer inputs than lanes: a few scalar products each
        out.split(d.c, co, ci, tile, TailStrategy::GuardWithIf)
            .split(d.n, no, ni, tile, TailStrategy::GuardWithIf)
            .parallel(no);
        return;
    }
    // Tiles of units x samples; below few_samples a call (a specialization), of one sample by
    // 2 x tile units (8 accumulators on either target). The lanes are computed at the same loop
    // in both, over a tile's whole extents: out's splits round up (an internal buffer; the reads
    // are clamped), or, when out is the pipeline's output, lanes' extents are bounded to the tile.
    // bench/models/wide_mlp's batch-1 predict (2-core Zen 5, AVX-512): 4 x 4 tiles of the one
    // sample 0.105 ms, 16 x 1 0.090 ms (Halide's profiler and pool); with runtime/ThreadPool.c,
    // netc bench, two runs each: 16 x 1 0.071-0.077 ms, 8 x 1 0.043-0.052, 4 x 1 0.047-0.050,
    // 2 x 1 0.073-0.115 (too few accumulators for the FMAs' latency). AVX2 code there: 4 x 1
    // (8 ymm accumulators) 0.046-0.050 ms.
    struct Path {
        Stage stage;
        int units, samples;
    };
    std::vector<Path> paths;
    if (!ctx.is_output) {
        paths.push_back({out.specialize(l.conditions.at("few_samples")), 2 * tile, 1});
    }
    paths.push_back({out, tile, tile});
    const TailStrategy tail = ctx.is_output ? TailStrategy::GuardWithIf : TailStrategy::RoundUp;
    const bool by_units = units > 8 * tile;
    Func lanes = l.stage("lanes");
    for (Path &p : paths) {
        p.stage.split(d.c, co, ci, p.units, tail).split(d.n, no, ni, p.samples, tail);
        if (by_units) {
            // a task per block of units, whose weights stay in L1 while the samples go by
            p.stage.reorder(ci, ni, no, co).parallel(co);
        } else {
            // few units: a task per block of samples, over all the units
            p.stage.reorder(ci, ni, co, no).parallel(no);
        }
    }
    lanes.compute_at(out, by_units ? no : co);
    if (ctx.is_output) lanes.bound_extent(d.c, tile).bound_extent(d.n, tile);
    Var lane = lanes.args()[0];
    lanes.vectorize(lane, ctx.vector_width).unroll(lane).unroll(d.c).unroll(d.n);
    lanes.update()
        .reorder(lane, d.c, d.n, l.reduction("r").x)
        .vectorize(lane, ctx.vector_width)
        .unroll(lane)
        .unroll(d.c)
        .unroll(d.n);
}

// dL/dx(i, n) = sum_o W[o, i] * dy(o, n), with the forward pass's masked W under DropConnect
OpLowering lower_dense_grad_input(const LowerCtx &ctx) {
    const Dims &d = dims();
    int units = (int)ctx.forward_node().shape.dims[0];
    int inputs = (int)ctx.node.shape.dims[0];
    Var o("o");
    // W as stored, inputs innermost as the product vectorizes them: read in place, or, masked
    // under DropConnect, a stage of its own (the mask once per weight)
    Func weight(ctx.name("weight"));
    weight(d.c, o) = dropconnect_weight(ctx, ctx.param("weight", {o, d.c}), o * inputs + d.c);
    RDom r(0, units, ctx.name("r"));
    Func acc(ctx.name("acc"));
    acc(d.c, d.n) = 0.0f;
    acc(d.c, d.n) += weight(min(d.c, inputs - 1), r) * ctx.inputs[0](r, min(d.n, ctx.batch - 1));
    Func out(ctx.node.name);
    out(d.c, d.n) = acc(d.c, d.n);
    OpLowering l{out, {{"acc", acc}}, {}, {{"r", r}}};
    if (dropconnect_active(ctx)) l.stages["weight"] = weight;
    return l;
}

void schedule_dense_grad_input(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    if (l.has_stage("weight")) {
        l.stage("weight").compute_root().vectorize(d.c, ctx.vector_width,
                                                   TailStrategy::GuardWithIf);
    }
    schedule_product(ctx, l.out, l.stage("acc"), d.c, d.n, l.reduction("r").x,
                     (int)node.shape.dims[0]);
}

// dL/dW[o, i] = sum_n dy(o, n) * x(i, n), as (i0 = i, i1 = o); under DropConnect
// (W' = W * mask / (1 - p)) dL/dW = mask / (1 - p) * dL/dW'
OpLowering lower_dense_grad_weight(const LowerCtx &ctx) {
    const Dims &d = dims();
    int inputs = (int)ctx.input_shape(1).dims[0];
    int units = (int)ctx.forward_node().shape.dims[0];
    RDom r(0, ctx.batch, ctx.name("r"));
    Func acc(ctx.name("acc"));
    acc(d.i0, d.i1) = 0.0f;
    acc(d.i0, d.i1) +=
        ctx.inputs[0](min(d.i1, units - 1), r) * ctx.inputs[1](min(d.i0, inputs - 1), r);
    Func out(ctx.node.name);
    out(d.i0, d.i1) = dropconnect_active(ctx)
                          ? acc(d.i0, d.i1) * dropconnect_scale(ctx, d.i1 * inputs + d.i0)
                          : Expr(acc(d.i0, d.i1));
    return {out, {{"acc", acc}}, {}, {{"r", r}}};
}

void schedule_dense_grad_weight(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    const int inputs = (int)ctx.graph.nodes[node.inputs[1]].shape.dims[0];
    schedule_product(ctx, l.out, l.stage("acc"), d.i0, d.i1, l.reduction("r").x, inputs);
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
        .schedule = schedule_dense_grad_input,
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
