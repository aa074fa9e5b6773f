#pragma once
// FLOPs counted from the graph, for `netc bench`'s GFLOP/s and fraction of peak: each op's FLOP
// rule (OpDef::flops, compiler/ops/Op.h, where the convention is written) summed over the nodes.
// The count is the work the model asks for, the same under every schedule; a schedule that
// recomputes values does more work than counted.

#include "compiler/Graph.h"

#include <cstdint>

namespace netc {

/// The FLOPs of one call of every node of `graph` at `batch` samples: a forward graph gives a
/// predict call's, a graph with its backward nodes a gradient's. Fails loudly (internal_error) on
/// a node whose op has no FLOP rule.
double count_flops(const Graph &graph, int64_t batch);

/// The FLOPs of one training step of the forward graph `forward` at `batch` samples: every node of
/// its training graph (derive_training): forward, backward, loss, regularization and the updates,
/// a few per trained parameter (the optimizer's arithmetic).
double count_train_step_flops(const Graph &forward, int64_t batch);

}  // namespace netc
