#include "compiler/ops/Op.h"

namespace netc {

int64_t window_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                           int64_t dilation) {
    int64_t span = dilation * (kernel - 1) + 1;
    int64_t room = in + 2 * pad - span;
    if (room < 0) return 0;
    return room / stride + 1;
}

bool expect_image(const Shape &s, const char *op, std::string &error) {
    if (s.rank() == 3) return true;
    error = std::string(op) + " expects an image input CxHxW, got " + s.str();
    if (s.rank() == 1) error += " (a flat vector; did the model flatten too early?)";
    return false;
}

std::optional<Shape> same_shape(const Node &, const std::vector<Shape> &inputs, std::string &) {
    return inputs[0];
}

int64_t channels_of(const Shape &s) { return s.dims.empty() ? 1 : s.dims[0]; }

double no_flops(const Graph &, const Node &, int64_t) { return 0; }

}  // namespace netc

namespace netc {

std::vector<AttrSpec> with_weight_attrs(std::vector<AttrSpec> own) {
    own.push_back(
        init_attr("init", {Initializer::Kind::HeNormal, 0}, "initializer of the weight tensor"));
    own.push_back(
        init_attr("bias_init", {Initializer::Kind::Zeros, 0}, "initializer of the bias vector"));
    own.push_back(optional_float_attr("regularize", Range::at_least(0),
                                      "this layer's regularization strength, overriding the "
                                      "model's `regularize` strength (0 turns it off)"));
    return own;
}

std::vector<AttrSpec> pool_window_attrs() {
    return {
        int_attr("kernel", 2, Range::at_least(1), "window size (square)"),
        optional_int_attr("stride", Range::at_least(1), "step between windows; default: kernel"),
        int_attr("pad", 0, Range::at_least(0), "implicit padding on each side; at most kernel/2"),
    };
}

int64_t pool_stride(const Attrs &a) {
    return a.has("stride") ? a.get_int("stride") : a.get_int("kernel");
}

std::optional<Shape> pool_shape(const Node &node, const std::vector<Shape> &inputs,
                                std::string &error) {
    const Shape &in = inputs[0];
    if (!expect_image(in, node.op->name, error)) return std::nullopt;
    int64_t k = node.attrs.get_int("kernel");
    int64_t s = pool_stride(node.attrs);
    int64_t p = node.attrs.get_int("pad");
    if (2 * p > k) {
        error = "pad " + std::to_string(p) + " is more than half the kernel " + std::to_string(k);
        return std::nullopt;
    }
    int64_t h = window_output_size(in.dims[1], k, s, p, 1);
    int64_t w = window_output_size(in.dims[2], k, s, p, 1);
    if (h < 1 || w < 1) {
        error = "a " + std::to_string(k) + "x" + std::to_string(k) + " window with pad " +
                std::to_string(p) + " does not fit the input " + in.str();
        return std::nullopt;
    }
    return Shape{{in.dims[0], h, w}};
}

// A relu before examples/fashion_cnn's two 2x2 maxpools was then computed into the windows'
// reads, not a pass of its own (2-core Zen 5, train step at batch 64, one object each, seven
// runs: lower quartile 14.8 -> 13.8 ms; LeNet-5's tanh before its avgpools: no change).
bool pool_reads_once(const Node &node, int) {
    return node.attrs.get_int("kernel") <= pool_stride(node.attrs);
}

double pool_window_flops(const Graph &graph, const Node &node, int64_t batch) {
    const Node &pool = node.forward < 0 ? node : graph.nodes[node.forward];
    double k = (double)pool.attrs.get_int("kernel");
    return k * k * (double)batch * (double)pool.shape.elements();
}

}  // namespace netc
