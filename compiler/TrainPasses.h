#pragma once
// Passes: the training program's own nodes, appended after the backward graph
// (compiler/DeriveBackward.h), so that the loss, the regularizer, the learning rate, the batchnorm
// statistics and the optimizer are parts of the graph a reader sees in `netc --emit=backward` and
// the lowering walks, not settings a lowering function interprets.
//
// add_loss, after the backward graph:
//   sample_loss  = sample_loss(%logits)        the loss setting, per sample   (batched, scalar)
//   data_loss    = batch_mean(%sample_loss)     its mean over the batch         (scalar)
//   reg_loss     = regularization()             l1 sum|w| + l2 sum w^2 over the regularized
//                                               tensors (only with a regularizer)
//   d_<t>_total  = regularization_grad(%d_<t>)  dL/dw + l1 sign(w) + 2 l2 w, for each regularized
//                                               tensor t; Graph::param_grads then names it
// add_update, after add_loss:
//   learning_rate  = learning_rate()            the schedule at the step   (scalar)
//   stat_<b>       = batch_statistic()          the batch's mean or unbiased variance that
//                                               batchnorm buffer b averages (reads its layer)
//   update_<t>     = optimizer_update(%grad, %learning_rate)   each trained tensor's step
//   update_<b>     = running_average(%stat_<b>)                each buffer's running average
// The update nodes have no value (OpDef::updates_arena): lower_update (compiler/LowerTrain.h)
// writes them into the arena in place, from the gradient Funcs (train_step) or from a gradient
// arena passed in (apply_update), one loop per tensor in arena order.

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"

namespace netc {

/// L1 and L2 coefficients of a tensor's regularization: loss += l1 sum|w| + l2 sum w^2.
struct RegCoefficients {
    double l1 = 0, l2 = 0;
    bool any() const { return l1 > 0 || l2 > 0; }
};
/// The coefficients of `layer`'s tensor of role `role` under the graph's regularizer and the
/// layer's `regularize=` factor (none for buffers, biases and norms unless asked).
RegCoefficients regularization_of(const Graph &graph, const Node &layer, ParamRole role);

/// Appends the loss nodes to a graph with its backward graph derived.
void add_loss(Graph &graph);

/// Appends the learning rate, the batch statistics and the update nodes, after add_loss.
void add_update(Graph &graph);

/// The training half of the driver (compiler/Program.h): derive_backward (with the image's
/// gradient when `input_grad`), add_loss, add_update.
Graph derive_training(const Graph &forward, bool input_grad = false);

}  // namespace netc
