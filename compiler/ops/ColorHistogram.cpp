// color_histogram: per channel, the fraction of pixels in each of `bins` equal bins over
// [low, high], as a fixed feature extractor: [C, H, W] -> [C * bins] (channel-major). A value
// v falls in bin floor((v - low) * bins / (high - low)); values below low or at and above high
// count in the first or last bin. On a 1-channel image it is an intensity histogram. The op sees
// the model's input as training feeds it, normalized per channel ((pixel - mean) / std of the
// training set), hence the default range of two standard deviations either side of the mean.
#include "compiler/Lower.h"
#include "compiler/Onnx.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> color_histogram_shape(const Node &node, const std::vector<Shape> &in,
                                           std::string &error) {
    if (!expect_image(in[0], "color_histogram", error)) return std::nullopt;
    const double low = node.attrs.get_float("low"), high = node.attrs.get_float("high");
    if (!(high > low)) {
        error = "the range [low, high] = [" + format_number(low) + ", " + format_number(high) +
                "] is empty: high must be above low";
        return std::nullopt;
    }
    return Shape{{in[0].dims[0] * node.attrs.get_int("bins")}};
}

// out(ch * bins + b, n) = #{pixels of channel ch in bin b} / (H * W)
OpLowering lower_color_histogram(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &in = ctx.input_shape();
    const int h = (int)in.dims[1], w = (int)in.dims[2];
    const int bins = (int)ctx.attr_int("bins");
    const float low = (float)ctx.attr_float("low");
    const float per_unit = (float)((double)bins / (ctx.attr_float("high") - ctx.attr_float("low")));
    Expr channel = d.c / bins, bin = d.c % bins;
    RDom r(0, w, 0, h, ctx.name("r"));
    Expr v = ctx.inputs[0](channel, r.x, r.y, d.n);
    Expr at = clamp(cast<int>(floor((v - low) * per_unit)), 0, bins - 1);
    Func out(ctx.node.name);
    out(d.c, d.n) = sum(select(at == bin, 1.0f, 0.0f)) * (1.0f / (float)(h * w));
    return {out, {}, {}, {{"r", r}}};
}

void schedule_color_histogram(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

// Per input element and bin: a compare and an add.
double color_histogram_flops(const Graph &graph, const Node &node, int64_t batch) {
    return 2.0 * (double)batch * (double)graph.nodes[node.inputs[0]].shape.elements() *
           (double)node.attrs.get_int("bins");
}

// ONNX: the bin of every value as a float, compared with each bin's index (a one-hot
// [N, C, bins, H, W]), averaged over the pixels.
void onnx_color_histogram(OnnxCtx &ctx) {
    const int bins = (int)ctx.node().attrs.get_int("bins");
    const double low = ctx.node().attrs.get_float("low"), high = ctx.node().attrs.get_float("high");
    const float per_unit = (float)((double)bins / (high - low));
    std::string shifted = ctx.emit("Sub", {ctx.x(), ctx.constant("low", {(float)low}, {})}, {},
                                   "shifted");
    std::string scaled =
        ctx.emit("Mul", {shifted, ctx.constant("per_unit", {per_unit}, {})}, {}, "scaled");
    std::string floored = ctx.emit("Floor", {scaled}, {}, "floored");
    std::string bin = ctx.emit("Clip",
                               {floored, ctx.constant("first_bin", {0.0f}, {}),
                                ctx.constant("last_bin", {(float)(bins - 1)}, {})},
                               {}, "bin");
    std::string bin5 = ctx.emit("Unsqueeze", {bin, ctx.constant_ints("bin_axis", {2}, {1})}, {},
                                "bin_per_channel");
    std::vector<float> indices((size_t)bins);
    for (int b = 0; b < bins; b++) indices[(size_t)b] = (float)b;
    std::string hit =
        ctx.emit("Equal", {bin5, ctx.constant("bins", indices, {bins, 1, 1})}, {}, "hit");
    std::string ones = ctx.emit("Cast", {hit}, {OnnxAttr::i("to", 1)}, "hit_float");  // FLOAT
    std::string fractions = ctx.emit(
        "ReduceMean", {ones}, {OnnxAttr::ints("axes", {3, 4}), OnnxAttr::i("keepdims", 0)},
        "fractions");
    ctx.emit("Flatten", {fractions}, {OnnxAttr::i("axis", 1)});  // channel-major
}

}  // namespace

const OpDef &op_color_histogram() {
    static const OpDef def = {
        .name = "color_histogram",
        .summary = "per-channel histograms of pixel values: CxHxW -> C*bins fractions",
        .attrs =
            {
                int_attr("bins", 16, Range::closed(1, 4096), "bins per channel"),
                float_attr("low", -2.0, Range::any(), "the first bin's lower edge"),
                float_attr("high", 2.0, Range::any(), "the last bin's upper edge"),
            },
        .infer_shape = color_histogram_shape,
        .lower = lower_color_histogram,
        .schedule = schedule_color_histogram,
        .input_gradient = false,
        .flops = color_histogram_flops,
        .onnx = onnx_color_histogram,
    };
    return def;
}

}  // namespace netc
