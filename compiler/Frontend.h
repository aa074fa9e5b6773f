#pragma once
// The front half of the compiler driver: source -> tokens -> AST -> graph -> shapes -> parameter
// layout, run as a straight line of passes. Each stage's result is kept so the command line can
// dump it (`--emit=ast|graph`).

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"
#include "dsl/Ast.h"
#include "dsl/Diagnostics.h"
#include "dsl/Source.h"

#include <memory>
#include <optional>
#include <string>

namespace netc {

struct Frontend {
    std::unique_ptr<SourceFile> source;
    std::unique_ptr<Diagnostics> diags;
    ast::File ast;
    std::optional<Graph> graph;  // set when the model is valid
    ParamLayout layout;          // valid when graph is set

    bool ok() const { return graph.has_value() && !diags->has_errors(); }
};

/// Runs the front end on source text held in memory (tests, fuzzing).
Frontend run_frontend(const std::string &path, std::string text);

/// The passes after parsing, on `f.ast`: graph, shapes, layout (what run_frontend does once the
/// file is parsed; compiler/Overrides.h runs them on a rewritten tree).
void check_ast(Frontend &f);

/// Reads and runs the front end on a file. When the file cannot be read, `read_error` is set and
/// the result holds no diagnostics source.
Frontend load_model_file(const std::string &path, std::string &read_error);

}  // namespace netc
