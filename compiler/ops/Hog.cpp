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

#include <cmath>

namespace netc {

using namespace Halide;

namespace {

constexpr float hog_eps = 1e-5f;

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
    Expr degrees = atan2(gy, gx) * (float)(180.0 / M_PI);
    degrees = select(degrees < 0.0f, degrees + 180.0f, degrees);
    degrees = select(degrees >= 180.0f, degrees - 180.0f, degrees);
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
    };
    return def;
}

}  // namespace netc
