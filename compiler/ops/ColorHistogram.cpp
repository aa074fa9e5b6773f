// color_histogram: per channel, the fraction of pixels in each of `bins` equal bins over
// [low, high], as a fixed feature extractor: [C, H, W] -> [C * bins] (channel-major). A value
// v falls in bin floor((v - low) * bins / (high - low)); values below low or at and above high
// count in the first or last bin. On a 1-channel image it is an intensity histogram. The op sees
// the model's input as training feeds it, normalized per channel ((pixel - mean) / std of the
// training set), hence the default range of two standard deviations either side of the mean.
#include "compiler/Lower.h"
#include "compiler/Mlir.h"
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
    std::string shifted =
        ctx.emit("Sub", {ctx.x(), ctx.constant("low", {(float)low}, {})}, {}, "shifted");
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
    std::string fractions =
        ctx.emit("ReduceMean", {ones}, {OnnxAttr::ints("axes", {3, 4}), OnnxAttr::i("keepdims", 0)},
                 "fractions");
    ctx.emit("Flatten", {fractions}, {OnnxAttr::i("axis", 1)});  // channel-major
}

// TOSA: the image [N, H, W, C] as [N, pixels, C, 1]; each value's bin (tosa.floor, tosa.clamp)
// compared with the bins' indices [1, 1, 1, bins] (a one-hot of i1, tosa.cast to f32), summed
// over the pixels and scaled by 1 / pixels, as netc's lowering does; [N, 1, C, bins] is
// channel-major already.
void mlir_color_histogram(MlirCtx &ctx) {
    const int64_t bins = ctx.node().attrs.get_int("bins");
    const double low = ctx.node().attrs.get_float("low"), high = ctx.node().attrs.get_float("high");
    const float per_unit = (float)((double)bins / (high - low));
    const std::vector<int64_t> &d = ctx.x().type.dims;  // [N, H, W, C]
    const int64_t n = d[0], pixels = d[1] * d[2], c = d[3];
    MlirValue values = mlir_reshape(ctx, ctx.x(), {n, pixels, c, 1}, "values");
    MlirValue shifted = mlir_elementwise(
        ctx, "tosa.sub", {values, mlir_scalar(ctx, "low", (float)low, 4)}, "shifted");
    MlirValue scaled = mlir_mul(ctx, shifted, mlir_scalar(ctx, "per_unit", per_unit, 4), "scaled");
    MlirValue floored = ctx.emit("tosa.floor", {scaled}, scaled.type, {}, "floored");
    MlirValue bin =
        ctx.emit("tosa.clamp", {floored}, floored.type,
                 {MlirAttr::i64("min_int", 0), MlirAttr::i64("max_int", bins - 1),
                  MlirAttr::f32("min_fp", 0.0f), MlirAttr::f32("max_fp", (float)(bins - 1))},
                 "bin");
    std::vector<float> indices((size_t)bins);
    for (int64_t b = 0; b < bins; b++) indices[(size_t)b] = (float)b;
    MlirValue hit = mlir_elementwise(
        ctx, "tosa.equal", {bin, ctx.constant("bins", indices, {1, 1, 1, bins})}, "hit", "i1");
    MlirValue ones = ctx.emit("tosa.cast", {hit}, {hit.type.dims, "f32"}, {}, "hit_float");
    MlirValue counts = ctx.emit("tosa.reduce_sum", {ones}, {{n, 1, c, bins}},
                                {MlirAttr::i64("axis", 1)}, "counts");
    MlirValue fractions =
        mlir_mul(ctx, counts, mlir_scalar(ctx, "per_pixel", 1.0f / (float)pixels, 4), "fractions");
    mlir_reshape(ctx, fractions, ctx.value_type().dims);
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
        .mlir = mlir_color_histogram,
    };
    return def;
}

}  // namespace netc
