#include "compiler/Frontend.h"

#include "compiler/BuildGraph.h"
#include "compiler/InferShapes.h"
#include "dsl/Parser.h"

namespace netc {

Frontend run_frontend(const std::string &path, std::string text) {
    Frontend f;
    f.source = std::make_unique<SourceFile>(path, std::move(text));
    f.diags = std::make_unique<Diagnostics>(*f.source);
    f.ast = parse(*f.source, *f.diags);
    // Semantic checks still run after syntax errors in other statements: the parser recovered,
    // and reporting an unknown op alongside a missing ')' saves the user a round trip.
    check_ast(f);
    return f;
}

void check_ast(Frontend &f) {
    std::optional<Graph> graph = build_graph(f.ast, *f.diags);
    if (!graph || f.diags->has_errors()) return;
    if (!infer_shapes(*graph, *f.diags)) return;
    std::optional<ParamLayout> layout = layout_params(*graph, *f.diags);
    if (!layout) return;
    f.layout = std::move(*layout);
    f.graph = std::move(graph);
}

Frontend load_model_file(const std::string &path, std::string &read_error) {
    std::string text;
    if (!read_source_file(path, text, read_error)) return Frontend{};
    return run_frontend(path, std::move(text));
}

}  // namespace netc
