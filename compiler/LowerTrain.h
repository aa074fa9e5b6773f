#pragma once
// Pass: training as Halide Funcs over the flat arena, in two halves that the program's
// pipelines compose (compiler/Program.h):
//   lower_gradient  forward in training mode, the loss, the derived backward graph and the
//                   regularization: the gradient arena and the losses
//   lower_update    the optimizer update of every trained tensor and the running averages of the
//                   batchnorm buffers, one loop per tensor over one buffer, reading each
//                   parameter only at its own index (so it can update the arena in place)
// `train_step` feeds lower_update from the gradient Funcs directly; `apply_update` from a
// gradient arena passed in. Both compute the same floats in the same order.

#include "compiler/Graph.h"
#include "compiler/LowerForward.h"
#include "compiler/ParamLayout.h"

#include <Halide.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace netc {

struct GradientFuncs {
    Forward graph;                     // every node of the training graph
    Halide::Func losses;               // (k): 0 data loss (batch mean), 1 regularization, 2 lr
    Halide::Func gradient;             // (i): the gradient arena
    std::vector<Halide::RDom> ranges;  // gradient's update domain per layout entry, or none
    std::map<std::string, Halide::Func> stages;  // "sample_loss", "data_loss", "reg_loss",
                                                 // "learning_rate"
    Halide::Func params;                         // the arena the step started from
    Halide::Expr batch;

    /// The gradient arena's value for entry `e` at its element `r` (reversed torch order):
    /// dL/dw with regularization for trained tensors, the batch statistic for buffers.
    Halide::Expr at(const Graph &train_graph, const ParamEntry &e,
                    const std::vector<Halide::Expr> &r) const;
};

/// `train_graph` is a forward graph with its backward graph derived. `step` counts from 0;
/// `sample_offset` is the global index of the batch's first sample (LowerCtx::sample_offset).
GradientFuncs lower_gradient(const Graph &train_graph, const ParamLayout &layout,
                             const Halide::Func &params, const Halide::Func &images,
                             const Halide::Func &labels, const Halide::Expr &batch,
                             const Halide::Expr &sample_offset, const Halide::Expr &step,
                             const Halide::Expr &total_steps);

struct UpdateFuncs {
    Halide::Func update;               // (i): params', then the state slots' (a Tuple with slots)
    std::vector<Halide::RDom> ranges;  // the update's domain per layout entry, or none
};

/// The gradient arena's value for an entry at its element, as lower_update reads it.
using GradientAt =
    std::function<Halide::Expr(const ParamEntry &e, const std::vector<Halide::Expr> &r)>;

/// `state` holds one Func per optimizer slot over the arena; `lr` the step's learning rate.
UpdateFuncs lower_update(const Graph &train_graph, const ParamLayout &layout,
                         const Halide::Func &params, const std::vector<Halide::Func> &state,
                         const GradientAt &grad, const Halide::Expr &lr, const Halide::Expr &step);

/// L1 and L2 coefficients of a tensor's regularization: loss += l1 sum|w| + l2 sum w^2.
struct RegCoefficients {
    double l1 = 0, l2 = 0;
};
RegCoefficients regularization_of(const Graph &graph, const ParamEntry &entry);

/// True when lower_update changes entry `e`: trained tensors the loss depends on, and buffers.
bool updated_by_step(const Graph &train_graph, const ParamEntry &e);

/// The arena index of the element `r` (reversed torch order) of `e`.
Halide::Expr arena_index(const ParamEntry &e, const std::vector<Halide::Expr> &r);

}  // namespace netc
