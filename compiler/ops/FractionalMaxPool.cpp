// fractional_maxpool: max pooling over k x k regions whose starts advance by a fractional
// stride in/out, pseudo-random per sample (Graham 2014, torch.nn.FractionalMaxPool2d).
//
// Along an axis of `in` pixels pooled to `out`, with alpha = (in - k) / (out - 1) and a draw u in
// [0, 1), region i starts at floor((i + u) * alpha) - floor(u * alpha) for i < out - 1 and the
// last at in - k (torch's formula, in float as torch computes it for float tensors; alpha >= 1
// because out + k - 1 <= in, so the regions overlap when k > alpha). While training, each sample
// draws its own u for x and for y from (seed, step, layer): PyTorch draws one pair per sample
// and channel, netc one per sample shared by its channels, which keeps the channels' loads
// contiguous (channels are innermost); `_random_samples` of shape (N, C, 2) filled with the same
// pair per channel reproduces netc's regions in PyTorch. In inference u = 0.5 for every sample:
// fixed regions, the middle of the draw's range.
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

#include <cmath>

namespace netc {

using namespace Halide;

namespace {

/// The pooled size along an axis of `in` pixels: `output` when given, else floor(in * ratio)
/// (torch's int(in * ratio)).
int64_t pooled_size(const Node &node, int64_t in) {
    if (node.attrs.has("output")) return node.attrs.get_int("output");
    return (int64_t)std::floor((double)in * node.attrs.get_float("ratio"));
}

std::optional<Shape> fractional_maxpool_shape(const Node &node, const std::vector<Shape> &inputs,
                                              std::string &error) {
    const Shape &in = inputs[0];
    if (!expect_image(in, "fractional_maxpool", error)) return std::nullopt;
    bool output = node.attrs.has("output"), ratio = node.attrs.has("ratio");
    if (output == ratio) {
        error = output ? "fractional_maxpool takes `output` or `ratio`, not both"
                       : "fractional_maxpool needs `output` (the pooled size) or `ratio` (of the "
                         "input size), as torch.nn.FractionalMaxPool2d does";
        return std::nullopt;
    }
    int64_t k = node.attrs.get_int("kernel");
    int64_t dims[2];
    for (int axis = 0; axis < 2; axis++) {
        int64_t size = in.dims[1 + axis];
        int64_t out = pooled_size(node, size);
        const char *name = axis == 0 ? "height" : "width";
        if (out < 1) {
            error = "ratio " + format_number(node.attrs.get_float("ratio")) + " of the input " +
                    in.str() + " leaves no output along its " + name;
            return std::nullopt;
        }
        if (out + k - 1 > size) {
            error = "a " + std::to_string(k) + "x" + std::to_string(k) + " region for each of " +
                    std::to_string(out) + " outputs along the " + name + " needs output + kernel " +
                    "- 1 <= input, but the input " + in.str() + " has " + std::to_string(size);
            return std::nullopt;
        }
        dims[axis] = out;
    }
    return Shape{{in.dims[0], dims[0], dims[1]}};
}

/// One axis of the pooling: `in` pixels to `out` regions of `k`.
struct Axis {
    int in, out, k;
    float alpha;  // (in - k) / (out - 1), in float as torch computes it
};

Axis axis_of(int in, int out, int k) {
    return {in, out, k, out > 1 ? (float)(in - k) / (float)(out - 1) : 0.0f};
}

struct Regions {
    Axis x, y;
};

Regions regions_of(const LowerCtx &ctx) {
    const Node &pool = ctx.forward_node();
    const Shape &in = ctx.graph.nodes[pool.inputs[0]].shape, &out = pool.shape;
    int k = (int)pool.attrs.get_int("kernel");
    return {axis_of((int)in.dims[2], (int)out.dims[2], k),
            axis_of((int)in.dims[1], (int)out.dims[1], k)};
}

/// The draw u of sample n along an axis (0: x, 1: y): uniform from (seed, step, layer, 2n + axis)
/// while training, n the sample's index in the step's global batch (so a data-parallel shard
/// draws what one process would); 0.5 in inference.
Expr draw(const LowerCtx &ctx, const Expr &n, int axis) {
    if (ctx.mode == Mode::Infer) return 0.5f;
    Expr key = random_bits(ctx.rng_key, ctx.forward_node().id);
    return random_uniform(key, 2 * (n + ctx.sample_offset) + axis);
}

/// start_i = floor((i + u) * alpha) - floor(u * alpha) for i < out - 1, in - k for the last.
Expr region_start(const Axis &a, const Expr &i, const Expr &u) {
    if (a.out == 1) return a.in - a.k;
    Expr alpha = a.alpha;
    Expr start =
        cast<int>(strict_float((cast<float>(i) + u) * alpha)) - cast<int>(strict_float(u * alpha));
    return select(i == a.out - 1, a.in - a.k, start);
}

/// region_start for a draw u fixed at compile time (inference's 0.5), in the same float arithmetic.
int64_t region_start_value(const Axis &a, int i, float u) {
    if (a.out == 1 || i == a.out - 1) return a.in - a.k;
    return (int64_t)(int)(((float)i + u) * a.alpha) - (int64_t)(int)(u * a.alpha);
}

/// The region starts of every output column (x) and row (y) of every sample, (i, n).
std::pair<Func, Func> region_starts(const LowerCtx &ctx) {
    Regions g = regions_of(ctx);
    Var i("i"), n("n");
    Func sx(ctx.name("start_x")), sy(ctx.name("start_y"));
    sx(i, n) = region_start(g.x, i, draw(ctx, n, 0));
    sy(i, n) = region_start(g.y, i, draw(ctx, n, 1));
    return {sx, sy};
}

// out(c, x, y, n) = max_{kx, ky < k} in(c, start_x(x, n) + kx, start_y(y, n) + ky, n)
OpLowering lower_fractional_maxpool(const LowerCtx &ctx) {
    const Dims &d = dims();
    Regions g = regions_of(ctx);
    auto [sx, sy] = region_starts(ctx);
    RDom r(0, g.x.k, 0, g.y.k, ctx.name("r"));
    // Clamped as a no-op (starts lie in [0, in - k]) that lets bounds inference see it.
    Expr x0 = clamp(sx(d.x, d.n), 0, g.x.in - g.x.k), y0 = clamp(sy(d.y, d.n), 0, g.y.in - g.y.k);
    Expr tap = ctx.inputs[0](d.c, x0 + r.x, y0 + r.y, d.n);
    Func out(ctx.node.name);
    std::map<std::string, Func> stages = {{"start_x", sx}, {"start_y", sy}};
    if (ctx.mode == Mode::Infer) {
        out(d.c, d.x, d.y, d.n) = maximum(tap);
        return {out, stages, {}, {{"r", r}}};
    }
    // Training keeps where each maximum came from, the first in row-major region order as
    // PyTorch picks among ties, for the backward pass.
    Func where(ctx.name("argmax"));
    where(d.c, d.x, d.y, d.n) = argmax(tap);
    out(d.c, d.x, d.y, d.n) = where(d.c, d.x, d.y, d.n)[2];
    stages["argmax"] = where;
    return {out, stages, {{"argmax", where}, {"start_x", sx}, {"start_y", sy}}, {{"r", r}}};
}

void schedule_fractional_maxpool(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    l.stage("start_x").compute_root();
    l.stage("start_y").compute_root();
    if (l.has_stage("argmax")) schedule_root(ctx, l.stage("argmax"), node.shape);
    schedule_root(ctx, l.out, node.shape);
}

/// The first output whose region may hold pixel `ix`, and how many outputs from there on to
/// look at. Region o starts within 1 of o * alpha (a few float roundings aside), so the regions
/// holding ix have o in ((ix - k - 0.5) / alpha, (ix + 1.5) / alpha).
Expr first_candidate(const Axis &a, const Expr &ix) {
    if (a.out == 1) return 0;
    return cast<int>(floor((cast<float>(ix - a.k) - 0.5f) / a.alpha));
}
int candidates(const Axis &a) {
    if (a.out == 1) return 1;
    return (int)std::ceil((double)(a.k + 2) / (double)a.alpha) + 2;
}

// dL/dx(c, ix, iy, n) = sum of dy(c, ox, oy, n) over the regions whose maximum was at (ix, iy)
OpLowering lower_fractional_maxpool_grad(const LowerCtx &ctx) {
    const Dims &d = dims();
    Regions g = regions_of(ctx);
    Func where = ctx.saved("argmax"), sx = ctx.saved("start_x"), sy = ctx.saved("start_y");
    Func dy = ctx.inputs[0];
    RDom j(0, candidates(g.x), 0, candidates(g.y), ctx.name("j"));
    Expr ox = first_candidate(g.x, d.x) + j.x, oy = first_candidate(g.y, d.y) + j.y;
    Expr cx = clamp(ox, 0, g.x.out - 1), cy = clamp(oy, 0, g.y.out - 1);
    Tuple at = where(d.c, cx, cy, d.n);
    Expr hit = ox >= 0 && ox < g.x.out && oy >= 0 && oy < g.y.out &&
               sx(cx, d.n) + cast<int>(at[0]) == d.x && sy(cy, d.n) + cast<int>(at[1]) == d.y;
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) = sum(select(hit, dy(d.c, cx, cy, d.n), 0.0f));
    return {out, {}, {}, {{"j", j}}};
}

void schedule_fractional_maxpool_grad(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

const OpDef &op_fractional_maxpool_grad() {
    static const OpDef def = {
        .name = "fractional_maxpool_grad",
        .summary = "dL/dx of fractional_maxpool: dy routed to each region's maximum",
        .user_visible = false,
        .lower = lower_fractional_maxpool_grad,
        .schedule = schedule_fractional_maxpool_grad,
        .flops = pool_window_flops,
    };
    return def;
}

// d/dx_i max_j x_j = 1[i is the (first) argmax], in the regions of the forward pass's draw
void backward_fractional_maxpool(BackwardCtx &ctx) {
    if (!ctx.needs_input_grad()) return;
    ctx.set_input_grad(0,
                       ctx.emit(op_fractional_maxpool_grad(), {ctx.dy()}, ctx.x_shape(), "input"));
}

// MaxPool(x, kernel k, stride 1) holds the maximum of the k x k window at every start; Gather
// along the rows (axis 2) and the columns (axis 3) keeps inference's regions (u = 0.5), the
// starts computed as the lowering computes them
void onnx_fractional_maxpool(OnnxCtx &ctx) {
    const Shape &in = ctx.x_shape(), &out = ctx.node().shape;
    int64_t k = ctx.node().attrs.get_int("kernel");
    auto starts = [&](int axis) {  // 1: rows (y), 2: columns (x)
        Axis a = axis_of((int)in.dims[axis], (int)out.dims[axis], (int)k);
        std::vector<int64_t> s;
        for (int i = 0; i < a.out; i++) s.push_back(region_start_value(a, i, 0.5f));
        return s;
    };
    std::string windows = ctx.emit(
        "MaxPool", {ctx.x()},
        {OnnxAttr::ints("kernel_shape", {k, k}), OnnxAttr::ints("strides", {1, 1})}, "windows");
    std::string rows_at = ctx.constant_ints("row_starts", starts(1), {out.dims[1]});
    std::string rows = ctx.emit("Gather", {windows, rows_at}, {OnnxAttr::i("axis", 2)}, "rows");
    std::string columns_at = ctx.constant_ints("column_starts", starts(2), {out.dims[2]});
    ctx.emit("Gather", {rows, columns_at}, {OnnxAttr::i("axis", 3)});
}

// tosa.max_pool2d (kernel k, stride 1), the maximum of the window at every start, then
// tosa.gather of the rows and of the columns at inference's region starts (u = 0.5, computed in
// float as netc computes them). TOSA's gather picks along axis 1 of [N, K, C] by indices [N, W]:
// the rows of [N, H', W' * C], then the columns of [N * out_h, W', C], the starts [1, W]
// tosa.tile'd to the N rows of indices.
void mlir_fractional_maxpool(MlirCtx &ctx) {
    const Shape &in = ctx.x_shape(), &out = ctx.node().shape;
    int64_t k = ctx.node().attrs.get_int("kernel");
    int64_t n = ctx.x().type.dims[0], c = in.dims[0];
    int64_t rows = in.dims[1] - k + 1, columns = in.dims[2] - k + 1;
    int64_t out_h = out.dims[1], out_w = out.dims[2];
    // The starts along axis 1 (rows, y) or 2 (columns, x), as indices for `copies` gathers.
    auto starts = [&](int axis, int64_t copies, const std::string &what) {
        Axis a = axis_of((int)in.dims[axis], (int)out.dims[axis], (int)k);
        std::vector<int64_t> s;
        for (int i = 0; i < a.out; i++) s.push_back(region_start_value(a, i, 0.5f));
        MlirValue once = ctx.constant_ints(what + "_once", s, {1, a.out});
        return ctx.emit("tosa.tile", {once}, {{copies, a.out}, "i32"},
                        {MlirAttr::ints("multiples", {copies, 1})}, what);
    };
    MlirValue windows =
        ctx.emit("tosa.max_pool2d", {ctx.x()}, {{n, rows, columns, c}},
                 {MlirAttr::ints("kernel", {k, k}), MlirAttr::ints("stride", {1, 1}),
                  MlirAttr::ints("pad", {0, 0, 0, 0})},
                 "windows");
    MlirValue by_row = mlir_reshape(ctx, windows, {n, rows, columns * c}, "by_row");
    MlirValue picked_rows = ctx.emit("tosa.gather", {by_row, starts(1, n, "row_starts")},
                                     {{n, out_h, columns * c}}, {}, "rows");
    MlirValue by_column = mlir_reshape(ctx, picked_rows, {n * out_h, columns, c}, "by_column");
    MlirValue picked = ctx.emit("tosa.gather", {by_column, starts(2, n * out_h, "column_starts")},
                                {{n * out_h, out_w, c}}, {}, "columns");
    mlir_reshape(ctx, picked, ctx.value_type().dims);
}

}  // namespace

const OpDef &op_fractional_maxpool() {
    static const OpDef def = {
        .name = "fractional_maxpool",
        .summary = "maximum over pseudo-random overlapping regions of fractional stride",
        .attrs =
            {
                int_attr("kernel", 2, Range::at_least(1), "region size (square)"),
                optional_int_attr("output", Range::at_least(1),
                                  "output height and width; give this or `ratio`"),
                optional_float_attr("ratio", Range::open(0, 1),
                                    "output size as a fraction of the input's, floor(in * "
                                    "ratio) per axis; give this or `output`"),
            },
        .infer_shape = fractional_maxpool_shape,
        .lower = lower_fractional_maxpool,
        .schedule = schedule_fractional_maxpool,
        .backward = backward_fractional_maxpool,
        .flops = pool_window_flops,
        .onnx = onnx_fractional_maxpool,
        .mlir = mlir_fractional_maxpool,
    };
    return def;
}

}  // namespace netc
