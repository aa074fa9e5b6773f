#pragma once
// The Halide-facing side of ops: what an op's forward lowering sees (LowerCtx) and returns
// (OpLowering). Lowering emits algorithm Funcs only; schedules are applied separately
// (compiler/Schedule.h), from each op's schedule hint.
//
// Memory layout inside generated pipelines: channels innermost, as Halide's own conv apps do.
// An image value [C, H, W] per sample is a Func (c, x, y, n); a vector value [F] is (c, n).
// Channels innermost lets conv, pooling and normalization vectorize across channels with unit
// stride, and makes flatten/dense a plain matmul. The C API takes NCHW like PyTorch; the
// conversion happens once, at the pipeline's edge (compiler/LowerForward.cpp).

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"
#include "compiler/ops/Op.h"

#include <Halide.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace netc {

enum class Mode {
    Train,  // batch statistics, dropout active
    Infer,  // running statistics, dropout the identity
};

/// The dimension variables of every value: (c, x, y, n) or (c, n).
struct Dims {
    Halide::Var c{"c"}, x{"x"}, y{"y"}, n{"n"};
    // Parameter gradients (no batch) are indexed by their torch dimensions reversed, innermost
    // first: conv2d weight [f, c, ky, kx] -> (i0 = kx, i1 = ky, i2 = c, i3 = f).
    Halide::Var i0{"i0"}, i1{"i1"}, i2{"i2"}, i3{"i3"};
};
const Dims &dims();

/// (i0, ...) for a parameter tensor of torch shape `shape`.
std::vector<Halide::Var> param_vars(const Shape &shape);

/// Halide arguments along the value's rank: {c, x, y, n} for images, {c, n} for vectors.
std::vector<Halide::Var> value_vars(const Shape &shape);

class LowerCtx {
public:
    LowerCtx(const Graph &graph, const Node &node, const ParamLayout &layout, Mode mode,
             std::vector<Halide::Func> inputs, Halide::Func params, Halide::Expr batch,
             Halide::Expr rng_key);

    const Graph &graph;
    const Node &node;
    Mode mode;
    std::vector<Halide::Func> inputs;     // the values of node.inputs, in the layout above
    Halide::Expr batch;                   // the runtime batch extent
    Halide::Expr rng_key;                 // uint32 key of this step's random stream (dropout)
    Halide::Expr sample_offset = 0;       // int32: the global index of sample n is
                                          // sample_offset + n (a shard of a data-parallel step);
                                          // per-sample random draws are keyed by it
    Halide::Func labels;                  // (n) int32 class labels (training pipelines only)
    Halide::Expr step, total_steps;       // int64: the step, from 0, and the run's length
                                          // (training pipelines only)
    Halide::Func images;                  // (i, n): the samples as the pipeline takes them, NCHW
                                          // rows; the input node is their (c, x, y, n) view
    const OpLowering *forward = nullptr;  // backward nodes: their forward node's lowering

    const Shape &input_shape(int i = 0) const;
    int64_t attr_int(const char *name) const { return node.attrs.get_int(name); }
    double attr_float(const char *name) const { return node.attrs.get_float(name); }

    bool has_param(const std::string &suffix) const;
    /// The element of this node's parameter tensor `suffix` at `index`, given in torch order
    /// (e.g. weight {f, c, ky, kx} for conv2d).
    Halide::Expr param(const std::string &suffix, const std::vector<Halide::Expr> &index) const;
    /// Where the tensor starts in the arena (for ops that update buffers).
    const ParamEntry &param_entry(const std::string &suffix) const;
    /// The arena's element `index`, and its layout (for ops over several layers' tensors).
    Halide::Expr arena(const Halide::Expr &index) const { return params_(index); }
    const ParamLayout &layout() const { return layout_; }

    /// A Func name unique in the pipeline: "<layer>_<what>".
    std::string name(const std::string &what) const { return node.name + "_" + what; }
    /// The forward node a backward node differentiates (the node itself for forward nodes).
    const Node &forward_node() const;
    /// A forward node's saved intermediate (OpLowering::saved), for its backward nodes.
    Halide::Func saved(const std::string &what) const;

private:
    const ParamLayout &layout_;
    Halide::Func params_;
};

/// What an op's lowering produces: its value and its intermediates, each by name, so the
/// schedule stage (compiler/Schedule.h) finds them by what they are, not by position.
struct OpLowering {
    Halide::Func out;                                // the op's value
    std::map<std::string, Halide::Func> stages;      // intermediates: "acc", "weight_r", "sum"
    std::map<std::string, Halide::Func> saved;       // values backward nodes reuse ("mean")
    std::map<std::string, Halide::RDom> reductions;  // domains of updates: "r"
    std::map<std::string, Halide::Expr> conditions;  // runtime conditions the algorithm selects
                                                     // on, for the schedule to specialize

    /// The intermediate called `name`; an internal error when the lowering made none.
    Halide::Func stage(const std::string &name) const;
    /// The reduction domain called `name`; an internal error when there is none.
    const Halide::RDom &reduction(const std::string &name) const;
    bool has_stage(const std::string &name) const { return stages.count(name) != 0; }
    bool has_reduction(const std::string &name) const { return reductions.count(name) != 0; }
};

/// How one node of a pipeline is being scheduled.
struct ScheduleCtx {
    const Graph &graph;
    Halide::Target target;
    int vector_width = 8;          // floats per vector on the target
    bool is_output = false;        // the node's value is a pipeline output
    bool users_read_once = false;  // every consumer reads each element once: elementwise, or
                                   // through a copy of its own, or by disjoint windows
                                   // (OpDef::reads_once)
};

// Helpers shared by op lowerings.

/// `f` padded with `value` outside the [C, H, W] image `shape` (for windows and convolutions).
Halide::Func pad_image(const Halide::Func &f, const Shape &shape, Halide::Expr value);

/// An elementwise op of one input: out(v) = fn(in(v), v), with v = (c, x, y, n) or (c, n).
OpLowering lower_pointwise(
    const LowerCtx &ctx,
    const std::function<Halide::Expr(Halide::Expr x, const std::vector<Halide::Expr> &v)> &fn);

/// The gradient of an elementwise op of one input: inputs (dy, x, y) -> dL/dx(v) = fn(dy, x, y, v).
OpLowering lower_pointwise_grad(
    const LowerCtx &ctx,
    const std::function<Halide::Expr(Halide::Expr dy, Halide::Expr x, Halide::Expr y,
                                     const std::vector<Halide::Expr> &v)> &fn);
/// The OpDef of such a gradient node.
OpDef pointwise_grad_op(const char *name, LowerRule lower);

/// Backward primitive: the gradient of a per-channel bias, db[c] = sum over n (and x, y) of dy.
const OpDef &op_bias_grad();

// Schedule helpers shared by op schedule hints.

/// Elementwise ops: inlined into consumers that read each element once, elementwise ops (so
/// chains such as batchnorm-relu fuse into one loop) or a padded convolution's copy of its input
/// (which the chain then fills in the same pass); computed at root before a window or reduction
/// op, which would otherwise recompute them once per tap.
void schedule_elementwise(const ScheduleCtx &ctx, const Node &node, OpLowering &lowered);
/// Computes `f` at root, vectorized over channels, parallel over the outermost dimension.
void schedule_root(const ScheduleCtx &ctx, Halide::Func f, const Shape &shape);
/// A per-channel sum f(c) += ... over `r`, whose last dimension is the samples (of `per_sample`
/// values each): vectors of channels, partial sums over blocks of samples in parallel, then
/// added up.
void schedule_channel_sum(const ScheduleCtx &ctx, Halide::Func f, const Halide::RDom &r,
                          int64_t per_sample);

/// tanh(x) in float, from Halide's exp, so that it vectorizes: Halide 14 lowers its own tanh to
/// a call of libm's scalar tanhf per lane (10 ns an element; 26 % of LeNet-5's train step).
/// Within 4 ulps of tanh on [-10, 10] (tests/compiler/ForwardTest.cpp).
Halide::Expr vector_tanh(const Halide::Expr &x);

/// 32 random bits for each (key, index), the Halide twin of netc::random::bits.
Halide::Expr random_bits(const Halide::Expr &key, const Halide::Expr &index);
/// Uniform in [0, 1), the Halide twin of netc::random::uniform.
Halide::Expr random_uniform(const Halide::Expr &key, const Halide::Expr &index);
/// The key of a stream, the Halide twin of netc::random::stream_key for a (lo, hi) seed pair.
Halide::Expr random_key(const Halide::Expr &seed_lo, const Halide::Expr &seed_hi,
                        const Halide::Expr &stream);

}  // namespace netc
