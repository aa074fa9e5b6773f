#pragma once
// Pass: AST -> graph IR. Resolves op names and value references, binds attributes against the
// op table, and reads the model's settings (input, classes, loss, regularizer) and the train
// block. Shapes are not known yet; infer_shapes fills them in.

#include "compiler/Graph.h"
#include "dsl/Ast.h"
#include "dsl/Diagnostics.h"

#include <optional>

namespace netc {

/// Builds the graph of the file's model. Reports every error it can find; returns nullopt when
/// any was reported.
std::optional<Graph> build_graph(const ast::File &file, Diagnostics &diags);

}  // namespace netc
