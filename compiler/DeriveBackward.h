#pragma once
// Pass: appends the backward graph to a forward graph, the way the lectures teach backprop:
// starting from dL/dlogits, each op's backward rule turns the gradient of its value into
// gradients of its inputs and parameters (local gradient times upstream gradient); where a
// value fans out, the contributions are summed. Nothing is computed for values that need no
// gradient (the image, and anything no parameter feeds).

#include "compiler/Graph.h"
#include "compiler/ops/Op.h"

namespace netc {

/// The first op of the graph that would need a backward rule and has none, or null when the
/// model can be trained. Feature ops (OpDef::input_gradient false) need none.
const OpDef *op_without_backward(const Graph &forward);

/// False when a feature op reads the image, so no gradient with respect to the image exists.
bool has_image_gradient(const Graph &forward);

/// A copy of `forward` with backward nodes appended and Graph::param_grads filled for every
/// trainable tensor. With `input_grad`, the image's gradient is derived too (for gradient
/// checks) and recorded in Graph::input_grad, where has_image_gradient says it exists.
Graph derive_backward(const Graph &forward, bool input_grad = false);

}  // namespace netc
