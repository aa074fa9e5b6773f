#pragma once
// Pass: appends the backward graph to a forward graph, the way the lectures teach backprop:
// starting from dL/dlogits, each op's backward rule turns the gradient of its value into
// gradients of its inputs and parameters (local gradient times upstream gradient); where a
// value fans out, the contributions are summed. Nothing is computed for values that need no
// gradient (the image, and anything no parameter feeds).

#include "compiler/Graph.h"
#include "compiler/ops/Op.h"

namespace netc {

/// The first op of the graph without a backward rule, or null when every op has one.
const OpDef *op_without_backward(const Graph &forward);

/// A copy of `forward` with backward nodes appended and Graph::param_grads filled for every
/// trainable tensor. With `input_grad`, the image's gradient is derived too (for gradient
/// checks) and recorded in Graph::input_grad.
Graph derive_backward(const Graph &forward, bool input_grad = false);

}  // namespace netc
