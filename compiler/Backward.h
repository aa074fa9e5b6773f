#pragma once
// What an op's backward rule sees: its forward node, the gradient flowing into its value, and a
// way to emit backward nodes into the graph and say which gradient each one is. The rules live
// in the op files next to the forward lowering; derive_backward (compiler/DeriveBackward.h)
// calls them in reverse topological order.

#include "compiler/Graph.h"
#include "compiler/ops/Op.h"

#include <string>
#include <vector>

namespace netc {

class BackwardCtx {
public:
    BackwardCtx(Graph &graph, int forward_node, int dy, std::vector<bool> input_needs_grad);

    /// The forward node being differentiated (a copy: emitting nodes may grow the graph).
    const Node &node() const { return node_; }
    /// The gradient of the loss with respect to the node's value (same shape, batched).
    int dy() const { return dy_; }
    /// The node's value (y) and its inputs (x_i), as node ids usable as emitted nodes' inputs.
    int y() const { return node_.id; }
    int x(int i = 0) const { return node_.inputs[i]; }
    const Shape &x_shape(int i = 0) const;
    /// False for inputs whose gradient nobody needs (the image, or values no parameter feeds).
    bool needs_input_grad(int i = 0) const { return input_needs_grad_[i]; }

    /// Emits a backward node computing `what` of this node (named d_<node>_<what>); it carries
    /// the forward node's attributes, so its lowering reads them as the forward lowering does.
    int emit(const OpDef &op, std::vector<int> inputs, Shape shape, const std::string &what);
    /// Emits a gradient of the parameter tensor `suffix` (no batch dimension, torch shape).
    int emit_param_grad(const OpDef &op, std::vector<int> inputs, const std::string &suffix);
    /// Adds an attribute the forward node does not have to an emitted node, for what only the
    /// rule knows (which slice of dy a concat input receives).
    void set_attr(int emitted, const std::string &name, int64_t value);

    /// Declares that node `id` is dL/dx_i (contributions to one value are summed).
    void set_input_grad(int i, int id);

    // For derive_backward.
    const std::vector<std::pair<int, int>> &input_grads() const { return input_grads_; }

private:
    Graph &graph_;
    Node node_;
    int dy_;
    std::vector<bool> input_needs_grad_;
    std::vector<std::pair<int, int>> input_grads_;  // (input index, gradient node)
};

/// An elementwise op's backward rule helper: emits one node `op(dy, x, y)` computing dL/dx.
void backward_pointwise(BackwardCtx &ctx, const OpDef &grad_op);

}  // namespace netc
