#pragma once
// What an op's MLIR rule sees: its node, the MLIR values of its inputs, and a way to add TOSA
// operations, the layer's parameters as constants of their torch names and shapes, and other
// constants. The rules live in the op files next to the ONNX rule; export_mlir
// (compiler/ExportMlir.h) calls them in graph order and writes the text. Nothing here links
// MLIR: the exporter writes MLIR 14's generic operation syntax, which mlir-opt-14 parses.
//
// Shapes are static, the batch N fixed at export. Image values are NHWC tensors [N, H, W, C], as
// TOSA's conv2d and pools take them (the function's NCHW input is transposed once, and flatten
// transposes back to C-major order); vector values [F] are [N, F]. Parameters keep their torch
// layout ([O, I, KH, KW] for a conv weight): a rule transposes or reshapes them as TOSA needs.

#include "compiler/Graph.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc {

/// A ranked tensor type of static shape: `tensor<8x28x28x1xf32>`.
struct MlirType {
    std::vector<int64_t> dims;
    std::string element = "f32";  // f32, i32 (indices, permutations, paddings) or i1 (masks)

    std::string str() const;
};

/// An SSA value of the function: its name with the % (`%conv1`, `%conv1.weight`) and type.
struct MlirValue {
    std::string name;
    MlirType type;
};

/// One attribute of a TOSA operation, its value as MLIR writes it.
struct MlirAttr {
    std::string name;
    std::string value;

    static MlirAttr i64(std::string name, int64_t v);  // `axis = 1 : i64`
    static MlirAttr i32(std::string name, int32_t v);  // `shift = 0 : i32`
    static MlirAttr f32(std::string name, float v);    // `min_fp = 0.0 : f32`
    /// An array of 64-bit integers: `pad = [1, 1, 1, 1]`.
    static MlirAttr ints(std::string name, const std::vector<int64_t> &v);
};

/// The MLIR type of a netc value of per-sample shape `s` at batch `batch`: [N, H, W, C] for an
/// image [C, H, W], [N, F] for a vector [F].
MlirType mlir_value_type(const Shape &s, int64_t batch);

struct MlirFunction;  // the function under construction (compiler/ExportMlir.cpp)

class MlirCtx {
public:
    MlirCtx(MlirFunction &function, const Graph &graph, const Node &node,
            std::vector<MlirValue> inputs);

    const Node &node() const { return node_; }
    /// The MLIR value of the node's input i (NHWC for an image) and its per-sample shape.
    const MlirValue &x(int i = 0) const { return inputs_[i]; }
    const Shape &x_shape(int i = 0) const;
    int input_count() const { return (int)inputs_.size(); }
    /// The type the layer's value must have.
    MlirType value_type() const;

    /// The constant of the node's parameter tensor `suffix`, named and shaped as torch
    /// (`%conv1.weight`, tensor<32x1x3x3xf32>), holding the checkpoint's values; added on first
    /// use.
    MlirValue param(const std::string &suffix);
    /// A float constant `%<layer>.<what>` of shape `dims`.
    MlirValue constant(const std::string &what, const std::vector<float> &values,
                       std::vector<int64_t> dims);
    /// An i32 constant `%<layer>.<what>` of shape `dims` (a permutation, a padding, indices).
    MlirValue constant_ints(const std::string &what, const std::vector<int64_t> &values,
                            std::vector<int64_t> dims);

    /// Adds `op(operands) {attrs}` of result type `result` and returns its value. With `what`
    /// empty the result is the layer's value `%<layer>`; otherwise `%<layer>.<what>`.
    MlirValue emit(const std::string &op, const std::vector<MlirValue> &operands, MlirType result,
                   const std::vector<MlirAttr> &attrs = {}, const std::string &what = "");
    /// The layer's value is the existing value `v` (an op that is the identity in inference).
    void set_value(const MlirValue &v);

    // For export_mlir.
    const MlirValue &value() const { return value_; }

private:
    std::string intermediate(const std::string &what) const;

    MlirFunction &function_;
    const Graph &graph_;
    const Node &node_;
    std::vector<MlirValue> inputs_;
    MlirValue value_;  // set by emit("") or set_value
};

// Helpers of the op rules: TOSA needs operands of one rank, broadcasting along axes of size 1,
// and a `shift` on every tosa.mul.

/// An elementwise TOSA operation (tosa.add, tosa.sub, tosa.maximum, ...) of operands of one rank,
/// its result broadcast over their axes of size 1; `element` is the result's (i1 for a compare).
MlirValue mlir_elementwise(MlirCtx &ctx, const std::string &op,
                           const std::vector<MlirValue> &operands, const std::string &what = "",
                           const std::string &element = "f32");
/// a * b, broadcast (tosa.mul, shift 0).
MlirValue mlir_mul(MlirCtx &ctx, const MlirValue &a, const MlirValue &b,
                   const std::string &what = "");
/// A float constant `v` of shape [1, ..., 1] of `rank`, which broadcasts over any value of it.
MlirValue mlir_scalar(MlirCtx &ctx, const std::string &what, float v, int rank);
/// `v` with shape `dims` (tosa.reshape; same element count).
MlirValue mlir_reshape(MlirCtx &ctx, const MlirValue &v, std::vector<int64_t> dims,
                       const std::string &what = "");
/// `v` with its axes permuted: result axis i is v's axis perm[i] (tosa.transpose).
MlirValue mlir_transpose(MlirCtx &ctx, const MlirValue &v, const std::vector<int64_t> &perm,
                         const std::string &what = "");
/// A per-channel tensor [C] (a torch parameter) reshaped to broadcast over the channels of the
/// value `like`: [1, 1, 1, C] for an image, [1, C] for a vector.
MlirValue mlir_per_channel(MlirCtx &ctx, const MlirValue &v, const MlirValue &like,
                           const std::string &what);
/// x > 0 ? x : negative, elementwise (tosa.greater, tosa.select), x the node's input; the
/// layer's value when `what` is empty.
MlirValue mlir_positive_or(MlirCtx &ctx, const MlirValue &negative, const std::string &what = "");

/// An MLIR rule for ops that are the identity in inference (dropout, stochastic_depth).
void mlir_identity(MlirCtx &ctx);
/// An MLIR rule helper for ops that are one TOSA operation of the input, of the same type.
void mlir_unary(MlirCtx &ctx, const std::string &op, const std::vector<MlirAttr> &attrs = {});
/// An MLIR rule helper for the normalization ops: the node's input normalized over each of
/// `groups` groups of consecutive channels of every sample (all of the sample for 1),
/// (x - mean) / sqrt(var + eps) with the group's mean and biased variance and the node's `eps`.
/// The result is the layer's value without affine parameters, an intermediate with them.
MlirValue mlir_normalize_groups(MlirCtx &ctx, int64_t groups);

}  // namespace netc
