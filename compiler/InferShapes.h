#pragma once
// Pass: computes every node's per-sample output shape with its op's shape rule, and checks that
// the last layer produces one score per class. Errors name the layer and give the expected and
// the actual shape.

#include "compiler/Graph.h"
#include "dsl/Diagnostics.h"

namespace netc {

/// Fills Node::shape for every node. Returns false when a shape error was reported.
bool infer_shapes(Graph &graph, Diagnostics &diags);

}  // namespace netc
