// conv2d: 2-D cross-correlation over [C, H, W] images (torch.nn.Conv2d), square kernels; with
// `dropconnect=p`, W is masked while training (compiler/ops/DropConnect.h).
#include "compiler/Backward.h"
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"
#include "compiler/ops/DropConnect.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> conv2d_shape(const Node &node, const std::vector<Shape> &in,
                                  std::string &error) {
    if (!expect_image(in[0], "conv2d", error)) return std::nullopt;
    int64_t k = node.attrs.get_int("kernel"), s = node.attrs.get_int("stride");
    int64_t p = node.attrs.get_int("pad"), d = node.attrs.get_int("dilation");
    int64_t h = window_output_size(in[0].dims[1], k, s, p, d);
    int64_t w = window_output_size(in[0].dims[2], k, s, p, d);
    if (h < 1 || w < 1) {
        error = "kernel " + std::to_string(k) + " with dilation " + std::to_string(d) +
                " and pad " + std::to_string(p) + " spans " + std::to_string(d * (k - 1) + 1) +
                " pixels, more than the padded input " + in[0].str() + " allows";
        return std::nullopt;
    }
    return Shape{{node.attrs.get_int("filters"), h, w}};
}

std::vector<ParamSpec> conv2d_params(const Node &node, const std::vector<Shape> &in) {
    int64_t f = node.attrs.get_int("filters"), k = node.attrs.get_int("kernel");
    std::vector<ParamSpec> p = {{"weight", Shape{{f, in[0].dims[0], k, k}},
                                 node.attrs.get_init("init"), ParamRole::Weight}};
    if (node.attrs.get_bool("bias")) {
        p.push_back({"bias", Shape{{f}}, node.attrs.get_init("bias_init"), ParamRole::Bias});
    }
    return p;
}

/// The torch-order index of W[f, c, ky, kx] in a [filters, C, k, k] weight (DropConnect's
/// element).
Expr weight_index(const Expr &f, const Expr &c, const Expr &ky, const Expr &kx, int channels,
                  int k) {
    return ((f * channels + c) * k + ky) * k + kx;
}

// out(f, x, y, n) = b[f] + sum_{c, kx, ky} W[f, c, ky, kx] * in(c, x*s + kx*d - p, y*s + ky*d - p,
// n)
OpLowering lower_conv2d(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &in = ctx.input_shape();
    int k = (int)ctx.attr_int("kernel"), stride = (int)ctx.attr_int("stride");
    int pad = (int)ctx.attr_int("pad"), dilation = (int)ctx.attr_int("dilation");
    Func padded = pad_image(ctx.inputs[0], in, 0.0f);
    Var ci("ci"), kx("kx"), ky("ky");
    Func weight_r(ctx.name("weight_r"));  // output channels innermost, to vectorize over them
    weight_r(d.c, ci, kx, ky) =
        dropconnect_weight(ctx, ctx.param("weight", {d.c, ci, ky, kx}),
                           weight_index(d.c, ci, ky, kx, (int)in.dims[0], k));
    RDom r(0, (int)in.dims[0], 0, k, 0, k, ctx.name("r"));
    Func acc(ctx.name("acc"));
    acc(d.c, d.x, d.y, d.n) = ctx.has_param("bias") ? ctx.param("bias", {d.c}) : 0.0f;
    acc(d.c, d.x, d.y, d.n) +=
        weight_r(d.c, r.x, r.y, r.z) *
        padded(r.x, d.x * stride + r.y * dilation - pad, d.y * stride + r.z * dilation - pad, d.n);
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) = acc(d.c, d.x, d.y, d.n);
    return {out, {{"weight_r", weight_r}, {"acc", acc}, {"padded", padded}}, {}, {{"r", r}}};
}

/// The vectors of pixels along a row of `row` pixels: half vectors (8 floats) on a row shorter
/// than two vectors, whose tail is otherwise scalar (LeNet-5's rows of 10 and 14 pixels fill
/// 16-float vectors by 5/8 and 7/8 and cost a whole tail each).
int pixel_vector(const ScheduleCtx &ctx, int row) {
    return row < 2 * ctx.vector_width ? std::min(ctx.vector_width, 8) : ctx.vector_width;
}

/// The columns of a register tile whose rows are `vectors` vectors wide: 16 accumulators in all,
/// at most 8 columns (pixels, or input channels in the weight gradient).
int tile_columns(int vectors) { return std::max(1, std::min(8, 16 / vectors)); }

// Register tiles over the reduction (input channels and taps), by the output's channels:
//   many (a vector or more)  vectors of channels by a few pixels of a row, each pixel's input a
//                            broadcast: up to 16 accumulators
//   few (LeNet's 6, 16)      vectors of pixels along a row by every channel, each weight a
//                            broadcast
// The accumulators of a tile are computed whole (reads past the row's end see the padding).
// Measured on a 2-core Zen 5 (AVX-512), netc bench train img/s, one accumulator vector per pixel
// before -> these tiles (with the rows of one channel, the half vectors and the weight
// gradient's plans below): bench/models/lenet5 1,368-1,512 -> 7,951-8,347, cifar_lenet 547-564
// -> 9,280-10,412, cifar_strided 974-1,086 -> 2,263-2,433, examples/cifar_resnet 545-579 ->
// 759-795, fashion_cnn 2,338-2,501 -> 2,932-3,017.
void schedule_conv2d(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    Func weight_r = l.stage("weight_r"), acc = l.stage("acc");
    const RDom &r = l.reduction("r");
    const int width = ctx.vector_width;
    const int channels = (int)node.shape.dims[0], row = (int)node.shape.dims[2];
    weight_r.compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf);
    // The input with its padding as a buffer of its own, one pass: the taps then read it
    // without a bounds check each (LeNet-5's transposed 5x5 convolution, 2-core Zen 5: 21.6 of
    // 38 ms a step with them). An unpadded forward convolution reads its input in place.
    Func padded = l.stage("padded");
    const Shape &input = ctx.graph.nodes[node.inputs[0]].shape;
    const bool pixels_in_vectors = channels < width && row >= width / 2;
    const bool unpadded = node.forward < 0 && node.attrs.get_int("pad") == 0;
    if (pixels_in_vectors) {
        // stored by rows of one channel, so a vector of pixels is one load
        Var pyn("pyn");
        padded.compute_root()
            .reorder_storage(d.x, d.c, d.y, d.n)
            .vectorize(d.x, width, TailStrategy::GuardWithIf)
            .fuse(d.y, d.n, pyn)
            .parallel(pyn);
    } else if (!unpadded) {
        schedule_root(ctx, padded, input);
    }
    Var xo("xo"), xi("xi"), yn("yn");
    l.out.compute_root().fuse(d.y, d.n, yn).parallel(yn);
    if (!pixels_in_vectors) {
        const int vectors = (channels + width - 1) / width;
        const int pixels = tile_columns(vectors);
        l.out.split(d.x, xo, xi, pixels, TailStrategy::GuardWithIf)
            .reorder(d.c, xi, xo, yn)
            .vectorize(d.c, width, TailStrategy::GuardWithIf);
        acc.compute_at(l.out, xo)
            .bound_extent(d.x, pixels)
            .vectorize(d.c, width, TailStrategy::GuardWithIf)
            .unroll(d.x);
        acc.update()
            .reorder(d.c, d.x, r.x, r.y, r.z, d.y, d.n)
            .vectorize(d.c, width, TailStrategy::GuardWithIf)
            .unroll(d.x);
        return;
    }
    const int pixels = pixel_vector(ctx, row);
    l.out.split(d.x, xo, xi, pixels, TailStrategy::GuardWithIf)
        .reorder(xi, d.c, xo, yn)
        .vectorize(xi);
    acc.compute_at(l.out, xo)
        .bound_extent(d.x, pixels)
        .bound_extent(d.c, channels)
        .vectorize(d.x)
        .unroll(d.c);
    acc.update().reorder(d.x, d.c, r.x, r.y, r.z, d.y, d.n).vectorize(d.x).unroll(d.c);
}

struct Window {
    int k, stride, pad, dilation;
};

/// The window of a conv2d node (a gradient node carries its forward node's attributes).
Window window_of(const Node &conv) {
    const Attrs &a = conv.attrs;
    return {(int)a.get_int("kernel"), (int)a.get_int("stride"), (int)a.get_int("pad"),
            (int)a.get_int("dilation")};
}

// What reads its input through a padded copy of its own (OpDef::reads_once): the forward
// convolution with padding, the input gradient (dy, always padded), and the weight gradient's x
// when padded (the forward's copy). An elementwise producer (relu, batchnorm) is then computed
// into the copy instead of a pass of its own: bench/models/cifar_strided's predict at batch 256
// (2-core Zen 5, one object each, five runs) 21.5-22.8 -> 19.1-20.9 ms.
bool conv2d_reads_once(const Node &node, int input) {
    return input == 0 && node.attrs.get_int("pad") > 0;
}
bool conv2d_grad_input_reads_once(const Node &, int input) { return input == 0; }
bool conv2d_grad_weight_reads_once(const Node &node, int input) {
    return input == 1 && node.attrs.get_int("pad") > 0;
}

/// Whether the input gradient is lowered by phases (lower_conv2d_grad_input_phases).
bool input_grad_by_phases(const Window &w) { return w.stride > 1 && w.dilation == 1; }

/// The input gradient of a strided, undilated convolution by phases: an input pixel
/// ix = qx*s + px (px in [0, s)) receives exactly the taps kx = (px + p) % s + s*jx, from the
/// output pixels ox = qx + (px + p) / s - jx, and likewise along y. acc(c, qx, px, qy, py, n)
/// sums those taps alone (W zero past the kernel where s does not divide k), so no tap is
/// computed to be thrown away: with stride 2, three of every four were, behind a select.
OpLowering lower_conv2d_grad_input_phases(const LowerCtx &ctx, const Window &w, Func dy) {
    const Dims &d = dims();
    const int filters = (int)ctx.forward_node().shape.dims[0];
    const int s = w.stride, taps = (w.k + s - 1) / s;
    Var f("f"), kx("kx"), ky("ky");
    Func weight_t(ctx.name("weight_t"));  // input channels innermost, zero past the kernel
    Expr wx = min(kx, w.k - 1), wy = min(ky, w.k - 1);
    weight_t(d.c, f, kx, ky) =
        select(kx < w.k && ky < w.k,
               dropconnect_weight(ctx, ctx.param("weight", {f, d.c, wy, wx}),
                                  weight_index(f, d.c, wy, wx, (int)ctx.node.shape.dims[0], w.k)),
               0.0f);
    Var qx("qx"), px("px"), qy("qy"), py("py");
    RDom r(0, filters, 0, taps, 0, taps, ctx.name("r"));
    Expr tx = (px + w.pad) % s + s * r.y, ty = (py + w.pad) % s + s * r.z;
    Expr ox = qx + (px + w.pad) / s - r.y, oy = qy + (py + w.pad) / s - r.z;
    Func acc(ctx.name("acc"));
    acc(d.c, qx, px, qy, py, d.n) = 0.0f;
    acc(d.c, qx, px, qy, py, d.n) += weight_t(d.c, r.x, tx, ty) * dy(r.x, ox, oy, d.n);
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) = acc(d.c, d.x / s, d.x % s, d.y / s, d.y % s, d.n);
    return {out, {{"weight_r", weight_t}, {"acc", acc}, {"padded", dy}}, {}, {{"r", r}}};
}

// dL/dx(c, ix, iy, n) = sum_{f, kx, ky} W[f, c, ky, kx] * dy(f, ox, oy, n)
//   where ix = ox*s + kx*d - p (and likewise y): a transposed convolution, with the forward
//   pass's masked W under DropConnect
OpLowering lower_conv2d_grad_input(const LowerCtx &ctx) {
    const Dims &d = dims();
    Window w = window_of(ctx.node);
    const Shape &out_shape = ctx.forward_node().shape;  // [F, OH, OW]
    int filters = (int)out_shape.dims[0];
    Func dy = pad_image(ctx.inputs[0], out_shape, 0.0f);
    if (input_grad_by_phases(w)) return lower_conv2d_grad_input_phases(ctx, w, dy);
    Var f("f"), kx("kx"), ky("ky");
    Func weight_t(ctx.name("weight_t"));  // input channels innermost, to vectorize over them
    weight_t(d.c, f, kx, ky) =
        dropconnect_weight(ctx, ctx.param("weight", {f, d.c, ky, kx}),
                           weight_index(f, d.c, ky, kx, (int)ctx.node.shape.dims[0], w.k));
    RDom r(0, filters, 0, w.k, 0, w.k, ctx.name("r"));
    Expr tx = d.x + w.pad - r.y * w.dilation, ty = d.y + w.pad - r.z * w.dilation;
    Expr tap = weight_t(d.c, r.x, r.y, r.z) * dy(r.x, tx / w.stride, ty / w.stride, d.n);
    if (w.stride > 1) {
        // Only input pixels on the output grid received this tap.
        tap = select(tx % w.stride == 0 && ty % w.stride == 0, tap, 0.0f);
    }
    Func acc(ctx.name("acc"));
    acc(d.c, d.x, d.y, d.n) = 0.0f;
    acc(d.c, d.x, d.y, d.n) += tap;
    Func out(ctx.node.name);
    out(d.c, d.x, d.y, d.n) = acc(d.c, d.x, d.y, d.n);
    return {out, {{"weight_r", weight_t}, {"acc", acc}, {"padded", dy}}, {}, {{"r", r}}};
}

// dL/dW[f, c, ky, kx] = sum_{n, ox, oy} dy(f, ox, oy, n) * x(c, ox*s + kx*d - p, oy*s + ky*d - p,
// n); under DropConnect (W' = W * mask / (1 - p)) dL/dW = mask / (1 - p) * dL/dW'
OpLowering lower_conv2d_grad_weight(const LowerCtx &ctx) {
    const Dims &d = dims();
    Window w = window_of(ctx.node);
    const Shape &out_shape = ctx.forward_node().shape;
    // Unpadded, every tap of the reduction reads inside the image: no bounds check at all;
    // padded, it reads the forward convolution's padded input, already a buffer of its own.
    Func x = w.pad > 0 ? ctx.forward->stage("padded") : ctx.inputs[1];
    Var f("f"), c("c"), kx("kx"), ky("ky");
    RDom r(0, (int)out_shape.dims[2], 0, (int)out_shape.dims[1], 0, ctx.batch, ctx.name("r"));
    // dy and x as the product reads them: in place, or copies stored by rows of one channel
    // where the schedule takes vectors of pixels (schedule_conv2d_grad_weight)
    Func dy_rows(ctx.name("dy_rows")), x_rows(ctx.name("x_rows"));
    dy_rows(d.c, d.x, d.y, d.n) = ctx.inputs[0](d.c, d.x, d.y, d.n);
    x_rows(d.c, d.x, d.y, d.n) = x(d.c, d.x, d.y, d.n);
    Func acc(ctx.name("acc"));  // (f, c, kx, ky): filters innermost, to vectorize over them
    acc(f, c, kx, ky) = 0.0f;
    // filters and channels clamped: a tile is computed whole (schedule_conv2d_grad_weight)
    Expr filter = min(f, (int)out_shape.dims[0] - 1);
    Expr channel = min(c, (int)ctx.input_shape(1).dims[0] - 1);
    acc(f, c, kx, ky) +=
        dy_rows(filter, r.x, r.y, r.z) * x_rows(channel, r.x * w.stride + kx * w.dilation - w.pad,
                                                r.y * w.stride + ky * w.dilation - w.pad, r.z);
    Func out(ctx.node.name);
    Expr grad = acc(d.i3, d.i2, d.i0, d.i1);
    if (dropconnect_active(ctx)) {
        int channels = (int)ctx.input_shape(1).dims[0];
        grad *= dropconnect_scale(ctx, weight_index(d.i3, d.i2, d.i1, d.i0, channels, w.k));
    }
    out(d.i0, d.i1, d.i2, d.i3) = grad;
    return {out, {{"acc", acc}, {"dy_rows", dy_rows}, {"x_rows", x_rows}}, {}, {{"r", r}}};
}

/// The phases' plan (lower_conv2d_grad_input_phases): a tile of vectors of channels by s rows
/// and a few whole phases (a multiple of s) of input pixels along them, in registers, so each
/// dy broadcast and weight vector serves every phase that reads it. A tile of one row computed
/// the phases of both rows (Halide bounds y % s by the whole [0, s)) and threw half away.
/// Measured on bench/models/cifar_strided (2-core Zen 5, Halide's profiler, train step at batch
/// 64): every tap behind a select, down1's (16 channels) 2.5 ms, down2's (32) 5.2 ms; phases of
/// one row: 2.9-4.0, 2.6-2.7 ms; phases of s rows: 1.3-1.8, 1.6-2.1 ms (netc bench train img/s
/// 3,664 -> 3,680-3,940).
void schedule_conv2d_grad_input_phases(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    const int width = ctx.vector_width, s = window_of(ctx.graph.nodes[node.forward]).stride;
    const int channels = (int)node.shape.dims[0];
    l.stage("weight_r").compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf);
    schedule_root(ctx, l.stage("padded"), ctx.graph.nodes[node.forward].shape);
    const int vectors = (channels + width - 1) / width;
    // accumulators: 16 of AVX-512's 32 registers, 8 of AVX2's 16
    const int budget = width >= 16 ? 16 : 8;
    const int phases = std::max(1, budget / (vectors * s * s));  // pixels / s per tile row
    Func acc = l.stage("acc");
    std::vector<Var> a = acc.args();  // c, qx, px, qy, py, n
    const RDom &r = l.reduction("r");
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), yn("yn");
    l.out.compute_root()
        .split(d.x, xo, xi, phases * s, TailStrategy::GuardWithIf)
        .split(d.y, yo, yi, s, TailStrategy::GuardWithIf)
        .reorder(d.c, xi, yi, xo, yo, d.n)
        .fuse(yo, d.n, yn)
        .parallel(yn)
        .vectorize(d.c, width, TailStrategy::GuardWithIf);
    acc.compute_at(l.out, xo)
        .bound_extent(a[1], phases)
        .bound_extent(a[2], s)
        .bound_extent(a[4], s)
        .vectorize(d.c, width, TailStrategy::GuardWithIf)
        .unroll(a[1])
        .unroll(a[2])
        .unroll(a[4]);
    acc.update()
        .reorder(d.c, a[1], a[2], a[4], r.x, r.y, r.z, a[3], a[5])
        .vectorize(d.c, width, TailStrategy::GuardWithIf)
        .unroll(a[1])
        .unroll(a[2])
        .unroll(a[4]);
}

void schedule_conv2d_grad_input(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    if (input_grad_by_phases(window_of(ctx.graph.nodes[node.forward]))) {
        return schedule_conv2d_grad_input_phases(ctx, node, l);
    }
    schedule_conv2d(ctx, node, l);
}

void schedule_conv2d_grad_weight(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    Func acc = l.stage("acc");
    const int filters = (int)ctx.graph.nodes[node.forward].shape.dims[0];
    const int row = (int)ctx.graph.nodes[node.forward].shape.dims[2];
    const bool pixels_in_vectors = filters < ctx.vector_width && row >= ctx.vector_width;
    if (pixels_in_vectors) {
        // copies by rows of one channel, so a vector of pixels is one load
        const Dims &d = dims();
        for (const char *name : {"dy_rows", "x_rows"}) {
            Var yn("yn");
            l.stage(name)
                .compute_root()
                .reorder_storage(d.x, d.c, d.y, d.n)
                .vectorize(d.x, ctx.vector_width, TailStrategy::GuardWithIf)
                .fuse(d.y, d.n, yn)
                .parallel(yn);
        }
    }
    const RDom &r = l.reduction("r");
    std::vector<Var> v = acc.args();  // f, c, kx, ky
    int width = ctx.vector_width;
    // A task per (input channel, tap), its accumulators its own (acc at the task: adjacent
    // tasks writing one small acc shared its cache lines and ran 2x slower than one thread).
    // One task per input channel before: LeNet-5's first layer (1 channel) ran on one core.
    const Dims &d = dims();
    Var tap("tap"), task("task");
    if (!pixels_in_vectors) {
        // A register tile of vectors of filters by a block of input channels, so each pass over
        // dy serves the block: with one channel a task, every task streamed all of dy (2 MB on
        // cifar_strided's down1) for 2 FMAs per 3 loads. 2-core Zen 5, Halide's profiler, at
        // batch 64: cifar_strided's down1 3.5 -> 0.9 ms, down2 2.6 -> 0.8 ms; netc bench train
        // img/s: fashion_cnn 2.9 -> 4.2 k (48 % of peak), cifar_resnet 0.7 -> 0.9 k, cifar_lenet
        // 7-9 -> 14.9 k, cifar_strided 2.6 -> 2.8-3.6 k.
        const int vectors = (filters + width - 1) / width;
        const int channels = (int)ctx.graph.nodes[node.inputs[1]].shape.dims[0];
        const int block = std::min(tile_columns(vectors), channels);
        Var co("co"), ci("ci"), fo("fo"), fi("fi");
        l.out.compute_root()
            .split(d.i2, co, ci, block, TailStrategy::GuardWithIf)
            .fuse(d.i0, d.i1, tap)
            .fuse(tap, co, task)
            .reorder(d.i3, ci, task)
            .parallel(task);
        acc.compute_at(l.out, task)
            .bound_extent(v[0], vectors * width)
            .bound_extent(v[1], block)
            .vectorize(v[0], width)
            .unroll(v[0])
            .unroll(v[1]);
        acc.update()
            .split(v[0], fo, fi, width)
            .reorder(fi, fo, v[1], r.x, r.y, r.z, v[2], v[3])
            .vectorize(fi)
            .unroll(fo)
            .unroll(v[1]);
        return;
    }
    l.out.compute_root()
        .fuse(d.i0, d.i1, tap)
        .fuse(tap, d.i2, task)
        .reorder(d.i3, task)
        .parallel(task);
    acc.compute_at(l.out, task).vectorize(v[0], width, TailStrategy::GuardWithIf);
    // Fewer filters than a vector: vectors of output pixels along a row instead, each filter's
    // sum a vector of partial sums (rfactor) added up at the end.
    RVar rxo("rxo"), rxi("rxi");
    Var lane("lane");
    const int lanes = pixel_vector(ctx, row);
    acc.update().split(r.x, rxo, rxi, lanes, TailStrategy::GuardWithIf);
    Func partial = acc.update().rfactor(rxi, lane);
    std::vector<Var> p = partial.args();  // f, c, kx, ky, lane
    partial.compute_at(l.out, task)
        .bound_extent(p[0], filters)  // the weight's extent; an output of unknown bounds otherwise
        .reorder(lane, p[0])
        .vectorize(lane)
        .unroll(p[0]);
    partial.update()
        .reorder(lane, p[0], rxo, r.y, r.z, p[1], p[2], p[3])
        .vectorize(lane)
        .unroll(p[0]);
}

/// Multiply-adds of the convolution `conv` (a forward node) over the batch:
/// N * F * Ho * Wo * C * k * k, padding taps included (the lowering computes them).
double conv2d_multiply_adds(const Graph &graph, const Node &conv, int64_t batch) {
    double channels = (double)graph.nodes[conv.inputs[0]].shape.dims[0];
    double k = (double)conv.attrs.get_int("kernel");
    return (double)batch * (double)conv.shape.elements() * channels * k * k;
}

// 2 per multiply-add, 1 per output for the bias
double conv2d_flops(const Graph &graph, const Node &node, int64_t batch) {
    double bias = node.attrs.get_bool("bias") ? (double)batch * (double)node.shape.elements() : 0;
    return 2 * conv2d_multiply_adds(graph, node, batch) + bias;
}

/// The DropConnect masks of a training step on the weight of `conv`: 1 per weight element each.
double conv2d_mask_flops(const Graph &graph, const Node &conv, int masks) {
    double channels = (double)graph.nodes[conv.inputs[0]].shape.dims[0];
    double k = (double)conv.attrs.get_int("kernel");
    double weights = (double)conv.shape.dims[0] * channels * k * k;
    return masks * dropconnect_flops(conv, weights);
}

// dx, a transposed convolution of dy: as many multiply-adds as the forward, and dx's
// DropConnect mask
double conv2d_grad_input_flops(const Graph &graph, const Node &node, int64_t batch) {
    const Node &conv = graph.nodes[node.forward];
    return 2 * conv2d_multiply_adds(graph, conv, batch) + conv2d_mask_flops(graph, conv, 1);
}

// dW, dy correlated with x: as many multiply-adds as the forward, and dW's and the forward's
// DropConnect masks
double conv2d_grad_weight_flops(const Graph &graph, const Node &node, int64_t batch) {
    const Node &conv = graph.nodes[node.forward];
    return 2 * conv2d_multiply_adds(graph, conv, batch) + conv2d_mask_flops(graph, conv, 2);
}

const OpDef &op_conv2d_grad_input() {
    static const OpDef def = {
        .name = "conv2d_grad_input",
        .summary = "dL/dx of conv2d: a transposed convolution of dy",
        .user_visible = false,
        .reads_once = conv2d_grad_input_reads_once,
        .lower = lower_conv2d_grad_input,
        .schedule = schedule_conv2d_grad_input,
        .flops = conv2d_grad_input_flops,
    };
    return def;
}

const OpDef &op_conv2d_grad_weight() {
    static const OpDef def = {
        .name = "conv2d_grad_weight",
        .summary = "dL/dW of conv2d: the correlation of dy with x",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .reads_once = conv2d_grad_weight_reads_once,
        .lower = lower_conv2d_grad_weight,
        .schedule = schedule_conv2d_grad_weight,
        .flops = conv2d_grad_weight_flops,
    };
    return def;
}

void backward_conv2d(BackwardCtx &ctx) {
    if (ctx.needs_input_grad()) {
        ctx.set_input_grad(0, ctx.emit(op_conv2d_grad_input(), {ctx.dy()}, ctx.x_shape(), "input"));
    }
    ctx.emit_param_grad(op_conv2d_grad_weight(), {ctx.dy(), ctx.x()}, "weight");
    if (ctx.node().attrs.get_bool("bias")) ctx.emit_param_grad(op_bias_grad(), {ctx.dy()}, "bias");
}

// Conv(x, W, b): W [filters, C, k, k] as torch has it; DropConnect is training only
void onnx_conv2d(OnnxCtx &ctx) {
    const Attrs &a = ctx.node().attrs;
    int64_t k = a.get_int("kernel"), s = a.get_int("stride"), p = a.get_int("pad");
    int64_t d = a.get_int("dilation");
    std::vector<std::string> inputs = {ctx.x(), ctx.param("weight")};
    if (a.get_bool("bias")) inputs.push_back(ctx.param("bias"));
    ctx.emit("Conv", inputs,
             {OnnxAttr::ints("kernel_shape", {k, k}), OnnxAttr::ints("strides", {s, s}),
              OnnxAttr::ints("pads", {p, p, p, p}), OnnxAttr::ints("dilations", {d, d}),
              OnnxAttr::i("group", 1)});
}

// tosa.conv2d(x [N, H, W, C], W [O, KH, KW, I], b [O]): the torch weight [O, I, KH, KW]
// transposed; pad is [top, bottom, left, right]; without a bias, a bias of zeros
void mlir_conv2d(MlirCtx &ctx) {
    const Attrs &a = ctx.node().attrs;
    int64_t s = a.get_int("stride"), p = a.get_int("pad");
    int64_t d = a.get_int("dilation"), filters = a.get_int("filters");
    MlirValue w = mlir_transpose(ctx, ctx.param("weight"), {0, 2, 3, 1}, "weight_ohwi");
    MlirValue b = a.get_bool("bias")
                      ? ctx.param("bias")
                      : ctx.constant("zero_bias", std::vector<float>(filters, 0.0f), {filters});
    ctx.emit("tosa.conv2d", {ctx.x(), w, b}, ctx.value_type(),
             {MlirAttr::ints("pad", {p, p, p, p}), MlirAttr::ints("stride", {s, s}),
              MlirAttr::ints("dilation", {d, d})});
}

}  // namespace

const OpDef &op_conv2d() {
    static const OpDef def = {
        .name = "conv2d",
        .summary = "2-D convolution (cross-correlation) with a square kernel",
        .attrs = with_weight_attrs({
            required_int_attr("filters", Range::at_least(1), "number of output channels"),
            int_attr("kernel", 3, Range::at_least(1), "kernel size (square)"),
            int_attr("stride", 1, Range::at_least(1), "step between output pixels"),
            int_attr("pad", 0, Range::at_least(0), "zero padding on each side"),
            int_attr("dilation", 1, Range::at_least(1), "spacing between kernel taps"),
            bool_attr("bias", true, "add a learned bias per output channel"),
            dropconnect_attr(),
        }),
        .infer_shape = conv2d_shape,
        .params = conv2d_params,
        .reads_once = conv2d_reads_once,
        .lower = lower_conv2d,
        .schedule = schedule_conv2d,
        .backward = backward_conv2d,
        .flops = conv2d_flops,
        .onnx = onnx_conv2d,
        .mlir = mlir_conv2d,
    };
    return def;
}

}  // namespace netc
