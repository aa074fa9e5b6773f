#pragma once
// Pass: computes every node's per-sample output shape with its op's shape rule, and checks that
// the last layer produces one score per class. Errors name the layer and give the expected and
// the actual shape. It also holds every value within what the generated code can address: a
// batch's tensor (per-sample elements times the train block's batch) within int32 indices, and
// the activations of one batch within 64 GiB (docs/language.md "Limits").

#include "compiler/Graph.h"
#include "dsl/Diagnostics.h"

namespace netc {

/// Fills Node::shape for every node. Returns false when a shape error was reported.
bool infer_shapes(Graph &graph, Diagnostics &diags);

}  // namespace netc
