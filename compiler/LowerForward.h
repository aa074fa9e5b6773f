#pragma once
// Pass: the graph -> Halide Funcs, algorithm only (compiler/Schedule.h schedules them). Every node
// is lowered: the forward ones and, when derive_backward and the training passes have appended
// them, the backward and training ones. Used by every entry point: predict (a forward graph) and
// the train step (forward, backward, loss).

#include "compiler/Graph.h"
#include "compiler/Lower.h"
#include "compiler/ParamLayout.h"

#include <Halide.h>

#include <vector>

namespace netc {

struct Forward {
    std::vector<OpLowering> values;  // per node id; values[0].out is the input in (c, x, y, n)
    Halide::Func logits;             // (c, n): the last node's value
    Halide::Func probs;              // (c, n): softmax over classes (none in a kNN model)
};

/// What only a training graph's nodes read (LowerCtx): the labels (n), the global index of the
/// batch's first sample (LowerCtx::sample_offset; undefined: 0), the step and the run's length.
struct TrainInputs {
    Halide::Func labels;
    Halide::Expr sample_offset, step, total_steps;
};

/// Lowers every node but the arena's updates (OpDef::updates_arena). `params` is the flat arena
/// (i); `images` the NCHW input, one row per sample (i, n); `batch` the batch extent; `rng_key`
/// the uint32 key of this step's random stream.
Forward lower_forward(const Graph &graph, const ParamLayout &layout, Mode mode,
                      const Halide::Func &params, const Halide::Func &images,
                      const Halide::Expr &batch, const Halide::Expr &rng_key,
                      const TrainInputs &train = {});

}  // namespace netc
