#pragma once
// Pass: one training step as Halide Funcs: forward in training mode, the loss, the derived
// backward graph, regularization, the optimizer update of every parameter and the batchnorm
// running statistics, all over the flat arena. The update is one loop per tensor over one
// buffer, reading each parameter only at its own index, so the step can update the arena in
// place once every other stage has run.

#include "compiler/Graph.h"
#include "compiler/LowerForward.h"
#include "compiler/ParamLayout.h"

#include <Halide.h>

#include <vector>

namespace netc {

struct TrainStepFuncs {
    Forward graph;                         // every node of the training graph
    Halide::Func update;                   // (i): param, then the optimizer state slots (a Tuple
                                           // when there are any)
    Halide::Func losses;                   // (k): 0 data loss (batch mean), 1 regularization, 2 lr
    Halide::Func gradient;                 // (i): dL/dparams over the arena, regularization
                                           // included; 0 for buffers (realized only when asked)
    std::vector<Halide::RDom> ranges;      // the update's domain for each layout entry, or none
    std::vector<Halide::Func> reductions;  // data loss, regularization, per-sample loss
};

/// `train_graph` is a forward graph with its backward graph derived. `state` holds one Func per
/// optimizer state slot over the arena. `step` counts from 0.
TrainStepFuncs lower_train_step(const Graph &train_graph, const ParamLayout &layout,
                                const Halide::Func &params, const std::vector<Halide::Func> &state,
                                const Halide::Func &images, const Halide::Func &labels,
                                const Halide::Expr &batch, const Halide::Expr &step,
                                const Halide::Expr &total_steps);

void schedule_train_step(const Graph &train_graph, const ParamLayout &layout, TrainStepFuncs &f,
                         const Halide::Target &target);

/// L1 and L2 coefficients of a tensor's regularization: loss += l1 sum|w| + l2 sum w^2.
struct RegCoefficients {
    double l1 = 0, l2 = 0;
};
RegCoefficients regularization_of(const Graph &graph, const ParamEntry &entry);

}  // namespace netc
