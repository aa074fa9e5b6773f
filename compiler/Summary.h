#pragma once
// `netc summary`: one row per layer (output shape, parameters, activation memory per sample)
// and totals, in the manner of Keras' model.summary().

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"

#include <string>

namespace netc {

std::string summary_table(const Graph &graph, const ParamLayout &layout);

}  // namespace netc
