#pragma once
// What the compiler knows about one op, gathered in one place: its attributes, shape rule
// and parameters, its lowering, backward rule, schedule hint, FLOP count, ONNX and MLIR mappings.
// Each op defines one OpDef in its own file under compiler/ops/; OpTable lists them all once.

#include "compiler/Attr.h"
#include "compiler/Graph.h"
#include "compiler/Shape.h"

#include <optional>
#include <string>
#include <vector>

namespace netc {

/// What a parameter tensor is for; decides regularization, optimizer treatment and init.
enum class ParamRole {
    Weight,  // conv/dense weights: regularized by default
    Bias,    // not regularized unless asked
    Norm,    // normalization scale and shift: not regularized unless asked
    Slope,   // prelu's learned slope: treated like a normalization parameter
    Buffer,  // batchnorm running statistics: in the arena, not trained
};

/// One parameter tensor of a node, named and shaped as torch.nn does.
struct ParamSpec {
    std::string suffix;  // "weight", "bias", "running_mean", ...
    Shape shape;         // torch layout: Linear [out, in], Conv2d [out, in, kh, kw]
    Initializer init;
    ParamRole role = ParamRole::Weight;
};

/// Computes the output shape from input shapes, or returns nullopt with `error` filled with a
/// message that states the expected and the actual shape (the caller names the layer).
using ShapeRule = std::optional<Shape> (*)(const Node &node, const std::vector<Shape> &inputs,
                                           std::string &error);
/// The node's parameter tensors, given its (already checked) input shapes.
using ParamRule = std::vector<ParamSpec> (*)(const Node &node, const std::vector<Shape> &inputs);

// The Halide side (compiler/Lower.h) is only named here, so the front end stays Halide-free.
class BackwardCtx;
class LowerCtx;
struct OpLowering;
struct ScheduleCtx;
/// Emits the op's forward algorithm as Halide Funcs (no scheduling).
using LowerRule = OpLowering (*)(const LowerCtx &ctx);
/// Applies the op's default schedule to the Funcs its lowering made.
using ScheduleRule = void (*)(const ScheduleCtx &ctx, const Node &node, OpLowering &lowered);
/// Emits the backward nodes of one forward node (compiler/Backward.h).
using BackwardRule = void (*)(BackwardCtx &ctx);
/// The floating-point operations of one call of `node` at `batch` samples (compiler/Flops.h).
/// Convention: 2 per multiply-add in conv2d, dense and their gradients (plus 1 per output for a
/// bias); 1 per element for elementwise ops and their gradients (a transcendental counts 1); 1 per
/// window tap for pooling; a small fixed count per element for normalization and the loss, as
/// each rule says; 0 for ops that only move data.
using FlopRule = double (*)(const Graph &graph, const Node &node, int64_t batch);
class OnnxCtx;
/// Emits the op's inference form as ONNX nodes (compiler/Onnx.h).
using OnnxRule = void (*)(OnnxCtx &ctx);
class MlirCtx;
/// Emits the op's inference form as TOSA operations in MLIR text (compiler/Mlir.h).
using MlirRule = void (*)(MlirCtx &ctx);

struct OpDef {
    const char *name = "";
    const char *summary = "";  // one line, for --help and the docs check
    int min_inputs = 1;
    int max_inputs = 1;  // -1: any number
    std::vector<AttrSpec> attrs;
    ShapeRule infer_shape = nullptr;
    ParamRule params = nullptr;  // null: the op has no parameters
    bool user_visible = true;    // false for the graph's input node
    bool elementwise = false;    // output (c, x, y, n) reads inputs only at (c, x, y, n)
    // Whether the node reads each element of its input `input` at most once, through a buffer of
    // its own (a padded copy) or windows that do not overlap, so that a producer computed inline
    // into it is computed once an element (null: not known to; elementwise ops need none).
    bool (*reads_once)(const Node &node, int input) = nullptr;
    LowerRule lower = nullptr;
    ScheduleRule schedule = nullptr;
    BackwardRule backward = nullptr;
    // False for fixed feature extractors (hog, color_histogram): no gradient reaches their
    // inputs and they need no backward rule; the front end refuses a trained layer before them.
    bool input_gradient = true;
    FlopRule flops = nullptr;  // every op has one; count_flops fails loudly on one without
    OnnxRule onnx = nullptr;   // null: export_onnx refuses the op, naming the layer
    MlirRule mlir = nullptr;   // null: export_mlir refuses the op, naming the layer
    // An update of the parameter arena (compiler/TrainPasses.h): no value of its own, so neither
    // lowered nor scheduled as a node; lower_update (compiler/LowerTrain.h) writes it into the
    // arena's update, from the gradient its input holds or the arena passed in.
    bool updates_arena = false;
};

// FLOP-rule helpers shared by the op files.

/// `per_element` operations on each element of the node's value, over the batch.
template <int per_element>
double per_element_flops(const Graph &, const Node &node, int64_t batch) {
    return (double)per_element * (double)batch * (double)node.shape.elements();
}

/// `per_element` operations on each element of the node's first input, over the batch: for
/// reductions such as a parameter gradient summed over the batch.
template <int per_element>
double per_input_element_flops(const Graph &graph, const Node &node, int64_t batch) {
    return (double)per_element * (double)batch *
           (double)graph.nodes[node.inputs[0]].shape.elements();
}

/// None: the op only moves data (flatten, concat) or is the graph's input.
double no_flops(const Graph &graph, const Node &node, int64_t batch);

// Shape-rule helpers shared by the op files.

/// The spatial output size of a window op along one axis (PyTorch's formula):
/// floor((in + 2*pad - dilation*(kernel-1) - 1) / stride) + 1.
int64_t window_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                           int64_t dilation);

/// Requires an image value [C, H, W]; fills `error` otherwise.
bool expect_image(const Shape &s, const char *op, std::string &error);

/// Shape rule for elementwise ops: the output has the input's shape.
std::optional<Shape> same_shape(const Node &node, const std::vector<Shape> &inputs,
                                std::string &error);

/// Channels of a value: C of [C, H, W], F of [F].
int64_t channels_of(const Shape &s);

}  // namespace netc

namespace netc {

/// The attributes every op with a weight tensor shares: init, bias_init, regularize.
std::vector<AttrSpec> with_weight_attrs(std::vector<AttrSpec> own);

/// Pooling windows (maxpool, avgpool): kernel, stride (default: kernel), pad.
std::vector<AttrSpec> pool_window_attrs();
/// A pooling node's stride: its `stride`, or its kernel when it has none.
int64_t pool_stride(const Attrs &a);
std::optional<Shape> pool_shape(const Node &node, const std::vector<Shape> &inputs,
                                std::string &error);
/// FLOPs of a pooling node or of its gradient: one per window tap of each output of the forward
/// node, kernel^2 per output.
double pool_window_flops(const Graph &graph, const Node &node, int64_t batch);
/// OpDef::reads_once of a pooling node: its windows do not overlap (kernel <= stride).
bool pool_reads_once(const Node &node, int input);

}  // namespace netc
