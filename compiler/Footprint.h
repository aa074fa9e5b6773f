#pragma once
// The memory a model takes, from its graph alone: what `netc summary` reports and what
// `netc train` checks against the machine before it loads data or compiles anything.

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"

#include <cstdint>

namespace netc {

struct TrainFootprint {
    int64_t arenas = 0;  // bytes: parameters, their gradient and the optimizer state
    int64_t values = 0;  // bytes: every value of the forward and backward graph for one batch
    int64_t total() const { return arenas + values; }
};

/// A training step of `forward` at `batch`. The values count every node of the training graph
/// (forward and backward) as materialized at once, which is what netc's schedule and its
/// workspace, reusing each buffer across steps, amount to; autoscheduled strategies inline more.
/// The arenas alone for a model without a backward graph.
TrainFootprint train_footprint(const Graph &forward, const ParamLayout &layout, int64_t batch);

}  // namespace netc
