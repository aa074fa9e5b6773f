#pragma once
// The losses a model can train with (the `loss` setting): their per-sample value and their
// gradient with respect to the logits, which seeds the backward graph.
//   softmax_cross_entropy: L = logsumexp(s) - sum_k t_k s_k, t = (1-e) onehot(y) + e/K
//                          dL/ds_k = softmax(s)_k - t_k
//   svm (Weston-Watkins):  L = sum_{j != y} max(0, s_j - s_y + margin)
//                          dL/ds_j = 1[s_j - s_y + margin > 0] (j != y), dL/ds_y = -(their count)
// The batch loss is the mean over samples, so every gradient is divided by the batch size.

#include "compiler/Graph.h"

#include <Halide.h>

namespace netc {

/// Appends the backward graph's first node, d_logits = dL/dlogits (batched, [classes]).
int emit_loss_grad(Graph &graph);

/// The loss of each sample, (n), from logits (c, n) and int32 labels (n).
Halide::Func lower_loss(const Graph &graph, const Halide::Func &logits, const Halide::Func &labels);

}  // namespace netc
