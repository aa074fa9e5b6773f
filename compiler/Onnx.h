#pragma once
// What an op's ONNX rule sees: its node, the ONNX names of its inputs, and a way to add ONNX
// nodes, the layer's parameters as initializers under their torch names, and constants. The
// rules live in the op files next to the forward lowering; export_onnx (compiler/ExportOnnx.h)
// calls them in graph order. This header knows nothing of protobuf: the exporter behind it does.
//
// Values are NCHW tensors with the batch first, as ONNX and PyTorch lay them out: an image value
// [C, H, W] per sample is a tensor [N, C, H, W], a vector value [F] is [N, F].

#include "compiler/Graph.h"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace netc {

/// One attribute of an ONNX node: an int, a float, a list of ints or a string.
struct OnnxAttr {
    std::string name;
    std::variant<int64_t, float, std::vector<int64_t>, std::string> value;

    static OnnxAttr i(std::string name, int64_t v) { return {std::move(name), v}; }
    static OnnxAttr f(std::string name, float v) { return {std::move(name), v}; }
    static OnnxAttr ints(std::string name, std::vector<int64_t> v) {
        return {std::move(name), std::move(v)};
    }
    static OnnxAttr s(std::string name, std::string v) { return {std::move(name), std::move(v)}; }
};

struct OnnxGraph;  // the model under construction (compiler/ExportOnnx.cpp)

class OnnxCtx {
public:
    OnnxCtx(OnnxGraph &graph, const Graph &netc_graph, const Node &node,
            std::vector<std::string> inputs);

    const Node &node() const { return node_; }
    /// The ONNX value of the node's input i and its per-sample shape.
    const std::string &x(int i = 0) const { return inputs_[i]; }
    const Shape &x_shape(int i = 0) const;
    int input_count() const { return (int)inputs_.size(); }

    /// The initializer of the node's parameter tensor `suffix`, named and shaped as torch
    /// (`conv1.weight` [32, 1, 3, 3]), added on first use.
    std::string param(const std::string &suffix);
    /// A constant initializer `<layer>/<what>` of float values with ONNX shape `dims`.
    std::string constant(const std::string &what, std::vector<float> values,
                         std::vector<int64_t> dims);
    /// A constant initializer `<layer>/<what>` of int64 values with ONNX shape `dims` (Reshape's
    /// shape, Gather's indices).
    std::string constant_ints(const std::string &what, std::vector<int64_t> values,
                              std::vector<int64_t> dims);

    /// Adds the node `op_type(inputs) attrs` and returns its output. With `what` empty the output
    /// is the layer's value, named as the layer; otherwise `<layer>/<what>`, an intermediate.
    std::string emit(const std::string &op_type, std::vector<std::string> inputs,
                     std::vector<OnnxAttr> attrs = {}, const std::string &what = "");
    /// Adds a node of several outputs (TopK's values and indices), intermediates named by
    /// `whats`, and returns them in order.
    std::vector<std::string> emit_outputs(const std::string &op_type,
                                          std::vector<std::string> inputs,
                                          std::vector<OnnxAttr> attrs,
                                          const std::vector<std::string> &whats);
    /// The layer's value is the existing value `name` (an op that is the identity in inference).
    void set_value(const std::string &name);

    // For export_onnx.
    const std::string &value() const { return value_; }

private:
    std::string intermediate(const std::string &what) const;
    void add_node(const std::string &op_type, std::vector<std::string> inputs,
                  std::vector<OnnxAttr> attrs, const std::vector<std::string> &outputs);

    OnnxGraph &graph_;
    const Graph &netc_graph_;
    const Node &node_;
    std::vector<std::string> inputs_;
    std::string value_;  // set by emit("") or set_value
};

/// An ONNX rule for ops that are the identity in inference (dropout, stochastic_depth).
void onnx_identity(OnnxCtx &ctx);
/// An ONNX rule helper for the normalization ops: the node's input normalized over each of `rows`
/// equal parts of every sample, (x - mean) / sqrt(var + eps) with the part's mean and biased
/// variance and the node's `eps`: Reshape [N, C, ...] to [N, rows, -1], InstanceNormalization
/// (scale 1, shift 0), Reshape back. The result is the layer's value without affine parameters,
/// an intermediate with them.
std::string onnx_normalize_rows(OnnxCtx &ctx, int64_t rows);
/// An ONNX rule helper for ops that are one ONNX node of the same inputs.
void onnx_unary(OnnxCtx &ctx, const std::string &op_type, std::vector<OnnxAttr> attrs = {});

}  // namespace netc
