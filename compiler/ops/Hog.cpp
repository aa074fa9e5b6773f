// hog: histograms of oriented gradients (Dalal and Triggs, 2005), unsigned orientations, as a
// fixed feature extractor: [C, H, W] -> a flat vector of block-normalized cell histograms.
//   gradient     centred differences [-1, 0, 1] along x and y, edges repeated; of C channels,
//                the one with the largest gx^2 + gy^2 at that pixel (the first on ties)
//   orientation  atan2(gy, gx) folded into [0, 180) degrees; the magnitude sqrt(gx^2 + gy^2)
//                votes into the two nearest of `bins` bins (centres (b + 1/2) 180 / bins, wrapping
//                around 180), linearly by distance
//   cells        cell x cell pixels each, (H / cell) x (W / cell) of them (pixels past the last
//                whole cell are not counted)
//   blocks       block x block cells, one cell apart, each normalized on its own:
//                l2 v / sqrt(|v|^2 + eps^2); l2hys l2, clipped at 0.2, l2 again;
//                l1 v / (|v|_1 + eps); l1sqrt sqrt(l1); eps = 1e-5
// Output order: block row, block column, cell row in the block, cell column, bin.
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

#include <cmath>

namespace netc {

using namespace Halide;

namespace {

constexpr float hog_eps = 1e-5f;

// The minimax odd polynomial of atan on [0, tan(pi/8)] that both the lowering and the MLIR export
// use: atan(t) = t + t z (c0 + z (c1 + z (c2 + z c3))), z = t^2 (fitted for netc; with the range
// reduction at tan(pi/8) at most 1.1e-7 from atan over [-1, 1] in float).
constexpr float atan_c[] = {-0.3333295f, 0.1997771f, -0.1387768f, 0.08053723f};
constexpr float tan_pi_8 = 0.41421356237f, quarter_pi = 0.78539816340f;

/// atan(v) for v in [0, 1], in Halide: the polynomial above, after pi/4 + atan((v - 1)/(v + 1))
/// above tan(pi/8).
Expr atan_unit(const Expr &v) {
    Expr big = v > tan_pi_8;
    Expr t = select(big, (v - 1.0f) / (v + 1.0f), v), z = t * t;
    Expr poly = atan_c[0] + z * (atan_c[1] + z * (atan_c[2] + z * atan_c[3]));
    return select(big, quarter_pi, 0.0f) + t + t * z * poly;
}

/// The unsigned orientation of (gx, gy), atan2(gy, gx) folded into [0, 180) degrees, with
/// atan2(0, 0) = 0: the angle a of (|gx|, |gy|) in [0, 90] from atan of the smaller over the
/// larger, then 180 - a where gx and gy have opposite signs. Halide 14's atan2 calls libm's
/// scalar atan2f per lane: it was 2.33 of 3.9 ms of fashion_hog_svm's train step at batch 128
/// (2-core Zen 5, Halide's profiler), 0.19 of 1.04 ms with this.
Expr unsigned_degrees(const Expr &gx, const Expr &gy) {
    Expr ax = abs(gx), ay = abs(gy);
    Expr larger = max(ax, ay);
    Expr a = atan_unit(select(larger > 0.0f, min(ax, ay) / larger, 0.0f));
    a = select(ay > ax, 2 * quarter_pi - a, a) * (float)(180.0 / M_PI);
    return select(gx * gy < 0.0f, 180.0f - a, a);
}

struct HogGeometry {
    int cell, block, bins;
    int cells_x, cells_y;    // whole cells across and down
    int blocks_x, blocks_y;  // block positions across and down
    int features() const { return blocks_x * blocks_y * block * block * bins; }
};

HogGeometry hog_geometry(const Node &node, const Shape &in) {
    HogGeometry g;
    g.cell = (int)node.attrs.get_int("cell");
    g.block = (int)node.attrs.get_int("block");
    g.bins = (int)node.attrs.get_int("bins");
    g.cells_y = (int)(in.dims[1] / g.cell);
    g.cells_x = (int)(in.dims[2] / g.cell);
    g.blocks_y = g.cells_y - g.block + 1;
    g.blocks_x = g.cells_x - g.block + 1;
    return g;
}

std::optional<Shape> hog_shape(const Node &node, const std::vector<Shape> &in, std::string &error) {
    if (!expect_image(in[0], "hog", error)) return std::nullopt;
    HogGeometry g = hog_geometry(node, in[0]);
    if (g.blocks_y < 1 || g.blocks_x < 1) {
        error = "a " + std::to_string(in[0].dims[1]) + "x" + std::to_string(in[0].dims[2]) +
                " image holds " + std::to_string(g.cells_y) + "x" + std::to_string(g.cells_x) +
                " cells of " + std::to_string(g.cell) + "x" + std::to_string(g.cell) +
                " pixels, fewer than one block of " + std::to_string(g.block) + "x" +
                std::to_string(g.block) + " cells; use a smaller cell or block";
        return std::nullopt;
    }
    return Shape{{(int64_t)g.features()}};
}

OpLowering lower_hog(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &in = ctx.input_shape();
    const int channels = (int)in.dims[0], h = (int)in.dims[1], w = (int)in.dims[2];
    const HogGeometry g = hog_geometry(ctx.node, in);
    Expr x = d.x, y = d.y, n = d.n;
    // Every read clamped into the image: edges repeat, and vectors rounded up past the last
    // cell never read outside it.
    Func image(ctx.name("clamped"));
    image(d.c, x, y, n) = ctx.inputs[0](d.c, clamp(x, 0, w - 1), clamp(y, 0, h - 1), n);

    // Centred differences per channel.
    Func gxc(ctx.name("gx")), gyc(ctx.name("gy"));
    gxc(d.c, x, y, n) = image(d.c, x + 1, y, n) - image(d.c, x - 1, y, n);
    gyc(d.c, x, y, n) = image(d.c, x, y + 1, n) - image(d.c, x, y - 1, n);
    Expr gx = gxc(0, x, y, n), gy = gyc(0, x, y, n);
    Func dominant(ctx.name("dominant"));  // the strongest channel per pixel, where C > 1
    if (channels > 1) {
        RDom rc(0, channels, ctx.name("rc"));
        Expr strength = gxc(rc, x, y, n) * gxc(rc, x, y, n) + gyc(rc, x, y, n) * gyc(rc, x, y, n);
        dominant(x, y, n) = argmax(strength)[0];
        Expr strongest = clamp(dominant(x, y, n), 0, channels - 1);  // bounds for Halide
        gx = gxc(strongest, x, y, n);
        gy = gyc(strongest, x, y, n);
    }

    // Magnitude and the two bins it votes into: position p = angle / width - 1/2.
    Func orient(ctx.name("orient"));
    Expr degrees = unsigned_degrees(gx, gy);
    degrees = select(degrees >= 180.0f, degrees - 180.0f, degrees);  // 180 - a rounded to 180
    Expr p = degrees * (g.bins / 180.0f) - 0.5f;
    Expr below = cast<int>(floor(p));
    orient(x, y, n) = Tuple(sqrt(gx * gx + gy * gy), (below + g.bins) % g.bins, p - below);

    // Cell histograms, hist(b, cx, cy, n): a gather over the cell's pixels.
    Var b("b"), cx("cx"), cy("cy");
    RDom rp(0, g.cell, 0, g.cell, ctx.name("rp"));
    Tuple o = orient(cx * g.cell + rp.x, cy * g.cell + rp.y, n);
    Expr low_bin = o[1], high_bin = (o[1] + 1) % g.bins;
    Expr vote =
        select(b == low_bin, o[0] * (1.0f - o[2]), 0.0f) + select(b == high_bin, o[0] * o[2], 0.0f);
    Func hist(ctx.name("hist"));
    hist(b, cx, cy, n) = sum(vote);

    // Block normalization: one scale (or two, for l2hys) per block position (bx, by).
    Var bx("bx"), by("by");
    RDom rb(0, g.bins, 0, g.block, 0, g.block, ctx.name("rb"));
    Expr member = hist(rb.x, bx + rb.y, by + rb.z, n);
    const std::string norm = ctx.node.attrs.get_enum("norm");
    Func scale(ctx.name("scale")), rescale(ctx.name("rescale"));
    std::function<Expr(Expr, Expr, Expr)> normalized;  // of a value v in block (bx, by)
    if (norm == "l1" || norm == "l1sqrt") {
        scale(bx, by, n) = 1.0f / (sum(member) + hog_eps);
        normalized = [&, norm](Expr v, Expr at_x, Expr at_y) {
            Expr l1 = v * scale(at_x, at_y, n);
            return norm == "l1" ? l1 : sqrt(l1);
        };
    } else {
        scale(bx, by, n) = 1.0f / sqrt(sum(member * member) + hog_eps * hog_eps);
        if (norm == "l2") {
            normalized = [&](Expr v, Expr at_x, Expr at_y) { return v * scale(at_x, at_y, n); };
        } else {
            Expr clipped = min(member * scale(bx, by, n), 0.2f);
            rescale(bx, by, n) = 1.0f / sqrt(sum(clipped * clipped) + hog_eps * hog_eps);
            normalized = [&](Expr v, Expr at_x, Expr at_y) {
                return min(v * scale(at_x, at_y, n), 0.2f) * rescale(at_x, at_y, n);
            };
        }
    }

    // out(f, n), f = (((block_y * blocks_x + block_x) * block + j) * block + i) * bins + bin
    Expr f = d.c;
    Expr bin = f % g.bins, rest = f / g.bins;
    Expr i = rest % g.block;
    rest = rest / g.block;
    Expr j = rest % g.block;
    rest = rest / g.block;
    Expr block_x = rest % g.blocks_x, block_y = rest / g.blocks_x;
    Func out(ctx.node.name);
    out(d.c, n) = normalized(hist(bin, block_x + i, block_y + j, n), block_x, block_y);
    OpLowering l{out, {{"orient", orient}, {"hist", hist}, {"scale", scale}}, {}, {}};
    if (channels > 1) l.stages["dominant"] = dominant;
    if (rescale.defined()) l.stages["rescale"] = rescale;
    return l;
}

// Each stage at root, parallel over the batch: a sample's image is small next to a core's cache,
// and none of the stages is worth fusing into the next (hist reads each pixel once per bin).
void schedule_hog(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    const int vw = ctx.vector_width;
    Var b("b");
    if (l.has_stage("dominant"))
        l.stage("dominant").compute_root().parallel(d.n).vectorize(d.x, vw);
    l.stage("orient").compute_root().parallel(d.n).vectorize(d.x, vw);
    l.stage("hist").compute_root().parallel(d.n).vectorize(b, vw);
    l.stage("scale").compute_root().parallel(d.n);
    if (l.has_stage("rescale")) l.stage("rescale").compute_root().parallel(d.n);
    schedule_root(ctx, l.out, node.shape);
}

// Per pixel: C differences and magnitudes (8 each), the orientation and votes (~30), then per
// bin of a cell the gather (3 per pixel), and per output a normalization (4).
double hog_flops(const Graph &graph, const Node &node, int64_t batch) {
    const Shape &in = graph.nodes[node.inputs[0]].shape;
    const HogGeometry g = hog_geometry(node, in);
    const double pixels = (double)in.dims[1] * (double)in.dims[2];
    return (double)batch * (pixels * (8.0 * (double)in.dims[0] + 30.0 + 3.0 * g.bins) +
                            4.0 * (double)node.shape.elements());
}

// The exports compute what the lowering does, in steps both formats have. Neither has atan2, so
// the orientation comes from the half-angle form atan2(y, x) = 2 atan(y / (r + x)), r = |(x, y)|,
// which holds for x >= 0; an unsigned orientation is the same for (x, y) and (-x, -y), so with s
// the sign of x (1 at 0) it is 2 atan(s y / (r + |x|)), in [-90, 90] degrees, folded to [0, 180).
// The denominator is at least r, never 0 but where r = 0, and a tiny 1e-30 added to it makes that
// pixel's angle 0, as atan2(0, 0) is (its vote, r times a weight, is 0 either way). A pixel at
// position p = degrees * bins / 180 - 1/2 votes into bin b with weight max(0, 1 - d), d the
// distance of p to b around the circle of bins, min(|p - b|, bins - |p - b|): the lowering's two
// linear votes, with no integer bins to compute.
constexpr float hog_tiny = 1e-30f;

// ONNX, NCHW: edges repeated (Pad, mode edge), the differences of shifted Slices, the strongest
// channel by ArgMax (the first on ties) and GatherElements, the votes [N, bins, H, W], each cell's
// sum (Reshape into cells, ReduceSum), each block the Concat of its cells' Slices along the
// channels, normalized, and Transposed to the lowering's order (block row, block column, cell
// row, cell column, bin).
void onnx_hog(OnnxCtx &ctx) {
    const Shape &in = ctx.x_shape();
    const int64_t channels = in.dims[0], h = in.dims[1], w = in.dims[2];
    const HogGeometry g = hog_geometry(ctx.node(), in);
    auto scalar = [&](const std::string &what, float v) { return ctx.constant(what, {v}, {}); };
    auto ints = [&](const std::string &what, std::vector<int64_t> v) {
        const int64_t size = (int64_t)v.size();
        return ctx.constant_ints(what, std::move(v), {size});
    };
    // x[:, :, y0 : y0 + rows, x0 : x0 + columns], the starts and ends named by `what`
    auto window = [&](const std::string &of, int64_t y0, int64_t x0, int64_t rows, int64_t columns,
                      const std::string &what) {
        std::string starts = ints(what + "_starts", {y0, x0});
        std::string ends = ints(what + "_ends", {y0 + rows, x0 + columns});
        std::string axes = ints(what + "_axes", {2, 3});
        return ctx.emit("Slice", {of, starts, ends, axes}, {}, what);
    };
    auto binary = [&](const char *op, const std::string &a, const std::string &b,
                      const std::string &what) {
        return ctx.emit(op, {a, b}, {}, what);
    };
    auto unary = [&](const char *op, const std::string &a, const std::string &what) {
        return ctx.emit(op, {a}, {}, what);
    };

    std::string pads = ints("pads", {0, 0, 1, 1, 0, 0, 1, 1});
    std::string padded = ctx.emit("Pad", {ctx.x(), pads}, {OnnxAttr::s("mode", "edge")}, "padded");
    std::string right = window(padded, 1, 2, h, w, "right"),
                left = window(padded, 1, 0, h, w, "left");
    std::string gx = binary("Sub", right, left, "gx");
    std::string below = window(padded, 2, 1, h, w, "below"),
                above = window(padded, 0, 1, h, w, "above");
    std::string gy = binary("Sub", below, above, "gy");
    std::string gx2 = binary("Mul", gx, gx, "gx2");
    std::string gy2 = binary("Mul", gy, gy, "gy2");
    std::string strength = binary("Add", gx2, gy2, "strength");
    if (channels > 1) {
        std::string strongest = ctx.emit("ArgMax", {strength},
                                         {OnnxAttr::i("axis", 1), OnnxAttr::i("keepdims", 1),
                                          OnnxAttr::i("select_last_index", 0)},
                                         "strongest");
        gx = ctx.emit("GatherElements", {gx, strongest}, {OnnxAttr::i("axis", 1)}, "gx_strongest");
        gy = ctx.emit("GatherElements", {gy, strongest}, {OnnxAttr::i("axis", 1)}, "gy_strongest");
        std::string sx2 = binary("Mul", gx, gx, "gx2_strongest");
        std::string sy2 = binary("Mul", gy, gy, "gy2_strongest");
        strength = binary("Add", sx2, sy2, "strength_strongest");
    }
    std::string magnitude = unary("Sqrt", strength, "magnitude");

    std::string zero = scalar("zero", 0.0f);
    std::string x_negative = binary("Less", gx, zero, "x_negative");
    std::string minus_gy = unary("Neg", gy, "minus_gy");
    std::string signed_y = ctx.emit("Where", {x_negative, minus_gy, gy}, {}, "signed_y");
    std::string abs_gx = unary("Abs", gx, "abs_gx");
    std::string r_plus_x = binary("Add", magnitude, abs_gx, "r_plus_x");
    std::string tiny = scalar("tiny", hog_tiny);
    std::string denominator = binary("Add", r_plus_x, tiny, "denominator");
    std::string half_tan = binary("Div", signed_y, denominator, "half_tan");
    std::string half_angle = unary("Atan", half_tan, "half_angle");
    std::string signed_degrees =
        binary("Mul", half_angle, scalar("degrees_per_half_radian", (float)(360.0 / M_PI)),
               "signed_degrees");
    std::string negative = binary("Less", signed_degrees, zero, "negative");
    std::string turned = binary("Add", signed_degrees, scalar("half_turn", 180.0f), "turned");
    std::string degrees = ctx.emit("Where", {negative, turned, signed_degrees}, {}, "degrees");
    std::string scaled =
        binary("Mul", degrees, scalar("bins_per_degree", g.bins / 180.0f), "scaled");
    std::string p = binary("Sub", scaled, scalar("half", 0.5f), "position");

    std::vector<float> centres((size_t)g.bins);
    for (int b = 0; b < g.bins; b++) centres[(size_t)b] = (float)b;
    std::string offset =
        binary("Sub", p, ctx.constant("bin", centres, {1, g.bins, 1, 1}), "offset");
    std::string distance = unary("Abs", offset, "distance");
    std::string around = binary("Sub", scalar("bins", (float)g.bins), distance, "around");
    std::string nearest = binary("Min", distance, around, "nearest");
    std::string closeness = binary("Sub", scalar("one", 1.0f), nearest, "closeness");
    std::string weight = unary("Relu", closeness, "weight");
    std::string votes = binary("Mul", weight, magnitude, "votes");

    const int64_t cells_h = (int64_t)g.cells_y * g.cell, cells_w = (int64_t)g.cells_x * g.cell;
    std::string counted = window(votes, 0, 0, cells_h, cells_w, "counted");
    std::string by_cell = ctx.emit(
        "Reshape", {counted, ints("cell_shape", {0, g.bins, g.cells_y, g.cell, g.cells_x, g.cell})},
        {}, "by_cell");
    std::string hist = ctx.emit("ReduceSum", {by_cell, ints("cell_axes", {3, 5})},
                                {OnnxAttr::i("keepdims", 0)}, "hist");
    std::vector<std::string> members;  // [N, bins, blocks_y, blocks_x] each
    for (int j = 0; j < g.block; j++)
        for (int i = 0; i < g.block; i++)
            members.push_back(window(hist, j, i, g.blocks_y, g.blocks_x,
                                     "cell_" + std::to_string(j) + "_" + std::to_string(i)));
    std::string blocks = ctx.emit("Concat", members, {OnnxAttr::i("axis", 1)}, "blocks");

    const std::string norm = ctx.node().attrs.get_enum("norm");
    // v / sqrt(sum of v^2 over the block + eps^2), `what` naming the steps
    auto l2 = [&](const std::string &v, const std::string &what) {
        std::string squares =
            ctx.emit("ReduceSumSquare", {v},
                     {OnnxAttr::ints("axes", {1}), OnnxAttr::i("keepdims", 1)}, what + "_squares");
        std::string eps2 = scalar(what + "_eps2", hog_eps * hog_eps);
        std::string length =
            unary("Sqrt", binary("Add", squares, eps2, what + "_padded"), what + "_length");
        return binary("Mul", v, unary("Reciprocal", length, what + "_scale"), what);
    };
    std::string normalized;
    if (norm == "l1" || norm == "l1sqrt") {
        std::string total = ctx.emit("ReduceSum", {blocks, ints("block_axis", {1})},
                                     {OnnxAttr::i("keepdims", 1)}, "l1_total");
        std::string padded_total = binary("Add", total, scalar("eps", hog_eps), "l1_padded");
        std::string scale = unary("Reciprocal", padded_total, "l1_scale");
        normalized = binary("Mul", blocks, scale, "l1");
        if (norm == "l1sqrt") normalized = unary("Sqrt", normalized, "l1sqrt");
    } else {
        normalized = l2(blocks, "l2");
        if (norm == "l2hys") {
            std::string clipped = binary("Min", normalized, scalar("clip", 0.2f), "clipped");
            normalized = l2(clipped, "l2hys");
        }
    }
    std::string ordered =
        ctx.emit("Transpose", {normalized}, {OnnxAttr::ints("perm", {0, 2, 3, 1})}, "ordered");
    ctx.emit("Flatten", {ordered}, {OnnxAttr::i("axis", 1)});
}

// atan(v) for |v| <= 1 (TOSA 14 has no atan): for |v| above tan(pi/8), pi/4 + atan(t) with
// t = (|v| - 1) / (|v| + 1); then atan_c's polynomial of t (above).
MlirValue mlir_atan(MlirCtx &ctx, const MlirValue &v) {
    const int rank = (int)v.type.dims.size();
    auto scalar = [&](const std::string &what, float c) { return mlir_scalar(ctx, what, c, rank); };
    auto op = [&](const char *name, const std::vector<MlirValue> &operands, const std::string &what,
                  const char *element = "f32") {
        return mlir_elementwise(ctx, name, operands, what, element);
    };
    MlirValue one = scalar("atan_one", 1.0f), zero = scalar("atan_zero", 0.0f);
    MlirValue a = ctx.emit("tosa.abs", {v}, v.type, {}, "atan_abs");
    MlirValue big = op("tosa.greater", {a, scalar("tan_pi_8", tan_pi_8)}, "atan_big", "i1");
    MlirValue a_minus = op("tosa.sub", {a, one}, "atan_a_minus_1");
    MlirValue a_plus = op("tosa.add", {a, one}, "atan_a_plus_1");
    MlirValue inv = ctx.emit("tosa.reciprocal", {a_plus}, a_plus.type, {}, "atan_inv");
    MlirValue shifted = mlir_mul(ctx, a_minus, inv, "atan_shifted");
    MlirValue t = ctx.emit("tosa.select", {big, shifted, a}, v.type, {}, "atan_t");
    MlirValue base = ctx.emit("tosa.select", {big, scalar("quarter_pi", quarter_pi), zero}, v.type,
                              {}, "atan_base");
    MlirValue z = mlir_mul(ctx, t, t, "atan_z");
    const float *c = atan_c;
    MlirValue poly = scalar("atan_c3", c[3]);
    for (int i = 2; i >= 0; i--) {
        std::string k = std::to_string(i);
        MlirValue poly_z = mlir_mul(ctx, poly, z, "atan_poly" + k + "_z");
        poly = op("tosa.add", {poly_z, scalar("atan_c" + k, c[i])}, "atan_poly" + k);
    }
    MlirValue tz = mlir_mul(ctx, t, z, "atan_tz");
    MlirValue tail = mlir_mul(ctx, tz, poly, "atan_tail");
    MlirValue small = op("tosa.add", {t, tail}, "atan_small");
    MlirValue magnitude = op("tosa.add", {base, small}, "atan_magnitude");
    MlirValue negative = op("tosa.greater", {zero, v}, "atan_negative", "i1");
    MlirValue minus = ctx.emit("tosa.negate", {magnitude}, v.type, {}, "atan_minus");
    return ctx.emit("tosa.select", {negative, minus, magnitude}, v.type, {}, "atan");
}

// TOSA, NHWC: edges repeated by concatenating each edge's slice (tosa.pad pads with a constant
// only), differences of shifted tosa.slice, the strongest channel by a fold from the last channel
// to the first that takes a channel at least as strong (tosa.greater_equal, tosa.select: the
// first on ties), the magnitude as tosa.pow(s, 1/2) (TOSA has no sqrt), the votes [N, H, W, bins],
// each cell's sum (reshapes and tosa.reduce_sum, rows then columns), each block the tosa.concat of
// its cells' slices along the bins, which is the lowering's order already, normalized.
void mlir_hog(MlirCtx &ctx) {
    const std::vector<int64_t> &d = ctx.x().type.dims;  // [N, H, W, C]
    const int64_t n = d[0], h = d[1], w = d[2], channels = d[3];
    const HogGeometry g = hog_geometry(ctx.node(), ctx.x_shape());
    auto scalar = [&](const std::string &what, float v) { return mlir_scalar(ctx, what, v, 4); };
    auto op = [&](const char *name, const std::vector<MlirValue> &operands, const std::string &what,
                  const char *element = "f32") {
        return mlir_elementwise(ctx, name, operands, what, element);
    };
    auto unary = [&](const char *name, const MlirValue &a, const std::string &what) {
        return ctx.emit(name, {a}, a.type, {}, what);
    };
    auto slice = [&](const MlirValue &of, std::vector<int64_t> start, std::vector<int64_t> size,
                     const std::string &what) {
        return ctx.emit("tosa.slice", {of}, {size},
                        {MlirAttr::ints("start", start), MlirAttr::ints("size", size)}, what);
    };
    auto concat = [&](const std::vector<MlirValue> &parts, int64_t axis, const std::string &what) {
        MlirType type = parts[0].type;
        type.dims[(size_t)axis] = 0;
        for (const MlirValue &part : parts) type.dims[(size_t)axis] += part.type.dims[(size_t)axis];
        return ctx.emit("tosa.concat", parts, type, {MlirAttr::i64("axis", axis)}, what);
    };

    MlirValue top = slice(ctx.x(), {0, 0, 0, 0}, {n, 1, w, channels}, "top");
    MlirValue bottom = slice(ctx.x(), {0, h - 1, 0, 0}, {n, 1, w, channels}, "bottom");
    MlirValue tall = concat({top, ctx.x(), bottom}, 1, "tall");
    MlirValue first = slice(tall, {0, 0, 0, 0}, {n, h + 2, 1, channels}, "first_column");
    MlirValue last = slice(tall, {0, 0, w - 1, 0}, {n, h + 2, 1, channels}, "last_column");
    MlirValue padded = concat({first, tall, last}, 2, "padded");
    const std::vector<int64_t> image = {n, h, w, channels};
    MlirValue right = slice(padded, {0, 1, 2, 0}, image, "right");
    MlirValue left = slice(padded, {0, 1, 0, 0}, image, "left");
    MlirValue gx = op("tosa.sub", {right, left}, "gx");
    MlirValue below = slice(padded, {0, 2, 1, 0}, image, "below");
    MlirValue above = slice(padded, {0, 0, 1, 0}, image, "above");
    MlirValue gy = op("tosa.sub", {below, above}, "gy");
    // gx^2 + gy^2 of (gx, gy), `what` naming the steps
    auto strength_of = [&](const MlirValue &x, const MlirValue &y, const std::string &what) {
        MlirValue x2 = mlir_mul(ctx, x, x, what + "_gx2");
        MlirValue y2 = mlir_mul(ctx, y, y, what + "_gy2");
        return op("tosa.add", {x2, y2}, what);
    };
    MlirValue strength = strength_of(gx, gy, "strength");
    if (channels > 1) {
        const std::vector<int64_t> plane = {n, h, w, 1};
        auto channel = [&](const MlirValue &of, int64_t c) {
            return slice(of, {0, 0, 0, c}, plane,
                         of.name.substr(of.name.rfind('.') + 1) + "_" + std::to_string(c));
        };
        MlirValue best_x = channel(gx, channels - 1), best_y = channel(gy, channels - 1);
        MlirValue best = channel(strength, channels - 1);
        for (int64_t c = channels - 2; c >= 0; c--) {
            const std::string k = std::to_string(c);
            MlirValue x = channel(gx, c), y = channel(gy, c), s = channel(strength, c);
            MlirValue take = op("tosa.greater_equal", {s, best}, "take_" + k, "i1");
            best_x = ctx.emit("tosa.select", {take, x, best_x}, x.type, {}, "best_gx_" + k);
            best_y = ctx.emit("tosa.select", {take, y, best_y}, y.type, {}, "best_gy_" + k);
            best = ctx.emit("tosa.select", {take, s, best}, s.type, {}, "best_strength_" + k);
        }
        gx = best_x;
        gy = best_y;
        strength = best;
    }
    MlirValue magnitude = op("tosa.pow", {strength, scalar("square_root", 0.5f)}, "magnitude");

    MlirValue zero = scalar("zero", 0.0f);
    MlirValue x_negative = op("tosa.greater", {zero, gx}, "x_negative", "i1");
    MlirValue minus_gy = unary("tosa.negate", gy, "minus_gy");
    MlirValue signed_y =
        ctx.emit("tosa.select", {x_negative, minus_gy, gy}, gy.type, {}, "signed_y");
    MlirValue abs_gx = unary("tosa.abs", gx, "abs_gx");
    MlirValue r_plus_x = op("tosa.add", {magnitude, abs_gx}, "r_plus_x");
    MlirValue denominator = op("tosa.add", {r_plus_x, scalar("tiny", hog_tiny)}, "denominator");
    MlirValue inverse = unary("tosa.reciprocal", denominator, "inverse");
    MlirValue half_tan = mlir_mul(ctx, signed_y, inverse, "half_tan");
    MlirValue half_angle = mlir_atan(ctx, half_tan);
    MlirValue signed_degrees =
        mlir_mul(ctx, half_angle, scalar("degrees_per_half_radian", (float)(360.0 / M_PI)),
                 "signed_degrees");
    MlirValue negative = op("tosa.greater", {zero, signed_degrees}, "negative", "i1");
    MlirValue turned = op("tosa.add", {signed_degrees, scalar("half_turn", 180.0f)}, "turned");
    MlirValue degrees =
        ctx.emit("tosa.select", {negative, turned, signed_degrees}, turned.type, {}, "degrees");
    MlirValue scaled = mlir_mul(ctx, degrees, scalar("bins_per_degree", g.bins / 180.0f), "scaled");
    MlirValue p = op("tosa.sub", {scaled, scalar("half", 0.5f)}, "position");

    std::vector<float> centres((size_t)g.bins);
    for (int b = 0; b < g.bins; b++) centres[(size_t)b] = (float)b;
    MlirValue offset =
        op("tosa.sub", {p, ctx.constant("bin", centres, {1, 1, 1, g.bins})}, "offset");
    MlirValue distance = unary("tosa.abs", offset, "distance");
    MlirValue around = op("tosa.sub", {scalar("bins", (float)g.bins), distance}, "around");
    MlirValue nearest = op("tosa.minimum", {distance, around}, "nearest");
    MlirValue closeness = op("tosa.sub", {scalar("one", 1.0f), nearest}, "closeness");
    MlirValue weight = op("tosa.maximum", {closeness, scalar("no_vote", 0.0f)}, "weight");
    MlirValue votes = mlir_mul(ctx, weight, magnitude, "votes");

    MlirValue counted =
        slice(votes, {0, 0, 0, 0},
              {n, (int64_t)g.cells_y * g.cell, (int64_t)g.cells_x * g.cell, g.bins}, "counted");
    // TOSA takes tensors of rank 4 at most: the rows of a cell summed as [N * cells_y, cell, W,
    // bins], then its columns as [N * cells_y, cells_x, cell, bins].
    const int64_t strips = n * g.cells_y;
    MlirValue by_row =
        mlir_reshape(ctx, counted, {strips, g.cell, (int64_t)g.cells_x * g.cell, g.bins}, "by_row");
    MlirValue rows =
        ctx.emit("tosa.reduce_sum", {by_row}, {{strips, 1, (int64_t)g.cells_x * g.cell, g.bins}},
                 {MlirAttr::i64("axis", 1)}, "cell_rows");
    MlirValue by_column = mlir_reshape(ctx, rows, {strips, g.cells_x, g.cell, g.bins}, "by_column");
    MlirValue sums = ctx.emit("tosa.reduce_sum", {by_column}, {{strips, g.cells_x, 1, g.bins}},
                              {MlirAttr::i64("axis", 2)}, "cell_sums");
    MlirValue hist = mlir_reshape(ctx, sums, {n, g.cells_y, g.cells_x, g.bins}, "hist");
    std::vector<MlirValue> members;  // [N, blocks_y, blocks_x, bins] each
    for (int j = 0; j < g.block; j++)
        for (int i = 0; i < g.block; i++)
            members.push_back(slice(hist, {0, j, i, 0}, {n, g.blocks_y, g.blocks_x, g.bins},
                                    "cell_" + std::to_string(j) + "_" + std::to_string(i)));
    MlirValue blocks = concat(members, 3, "blocks");

    const std::string norm = ctx.node().attrs.get_enum("norm");
    MlirType per_block = blocks.type;
    per_block.dims[3] = 1;
    // v / sqrt(sum of v^2 over the block + eps^2), `what` naming the steps
    auto l2 = [&](const MlirValue &v, const std::string &what) {
        MlirValue squares = mlir_mul(ctx, v, v, what + "_squares");
        MlirValue total = ctx.emit("tosa.reduce_sum", {squares}, per_block,
                                   {MlirAttr::i64("axis", 3)}, what + "_total");
        MlirValue padded_total =
            op("tosa.add", {total, scalar(what + "_eps2", hog_eps * hog_eps)}, what + "_padded");
        MlirValue scale = unary("tosa.rsqrt", padded_total, what + "_scale");
        return mlir_mul(ctx, v, scale, what);
    };
    MlirValue normalized;
    if (norm == "l1" || norm == "l1sqrt") {
        MlirValue total = ctx.emit("tosa.reduce_sum", {blocks}, per_block,
                                   {MlirAttr::i64("axis", 3)}, "l1_total");
        MlirValue padded_total = op("tosa.add", {total, scalar("eps", hog_eps)}, "l1_padded");
        MlirValue scale = unary("tosa.reciprocal", padded_total, "l1_scale");
        normalized = mlir_mul(ctx, blocks, scale, "l1");
        if (norm == "l1sqrt")
            normalized = op("tosa.pow", {normalized, scalar("l1_root", 0.5f)}, "l1sqrt");
    } else {
        normalized = l2(blocks, "l2");
        if (norm == "l2hys") {
            MlirValue clipped = op("tosa.minimum", {normalized, scalar("clip", 0.2f)}, "clipped");
            normalized = l2(clipped, "l2hys");
        }
    }
    mlir_reshape(ctx, normalized, ctx.value_type().dims);
}

}  // namespace

const OpDef &op_hog() {
    static const OpDef def = {
        .name = "hog",
        .summary = "histograms of oriented gradients: CxHxW -> block-normalized cell histograms",
        .attrs =
            {
                int_attr("cell", 8, Range::at_least(1), "pixels per side of a cell"),
                int_attr("block", 2, Range::at_least(1), "cells per side of a block"),
                int_attr("bins", 9, Range::closed(1, 360), "orientation bins over [0, 180)"),
                enum_attr("norm", "l2hys", {"l2hys", "l2", "l1", "l1sqrt"}, "block normalization"),
            },
        .infer_shape = hog_shape,
        .lower = lower_hog,
        .schedule = schedule_hog,
        .input_gradient = false,
        .flops = hog_flops,
        .onnx = onnx_hog,
        .mlir = mlir_hog,
    };
    return def;
}

}  // namespace netc
