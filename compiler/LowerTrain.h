#pragma once
// Pass: training as Halide Funcs over the flat arena, in two halves that the program's
// pipelines compose (compiler/Program.h), from a graph the training passes have completed
// (compiler/TrainPasses.h):
//   lower_gradient  every node with a value (forward in training mode, backward, loss,
//                   regularization, learning rate, batch statistics): the gradient arena, which
//                   holds what each update node reads, and the losses
//   lower_update    the update nodes: the optimizer step of every trained tensor and the running
//                   averages of the batchnorm buffers, one loop per tensor over one buffer,
//                   reading each parameter only at its own index (so it can update the arena in
//                   place)
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
    Halide::Func params;               // the arena the step started from

    /// The gradient arena's value for entry `e` at its element `r` (reversed torch order), the
    /// input of its update node: dL/dw with regularization for trained tensors, the batch
    /// statistic for buffers.
    Halide::Expr at(const Graph &train_graph, const ParamEntry &e,
                    const std::vector<Halide::Expr> &r) const;
};

/// `train_graph` is a forward graph with its training graph derived. `step` counts from 0;
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

/// The arena index of the element `r` (reversed torch order) of `e`.
Halide::Expr arena_index(const ParamEntry &e, const std::vector<Halide::Expr> &r);

/// The domain of one tensor's elements, innermost (last torch dimension) first, named
/// "<prefix>_<tensor>"; rvars_of gives its variables as an index for arena_index.
Halide::RDom tensor_domain(const ParamEntry &e, const std::string &prefix);
std::vector<Halide::Expr> rvars_of(const Halide::RDom &r);

}  // namespace netc
