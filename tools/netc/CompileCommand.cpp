#include "tools/netc/CompileCommand.h"

#include "compiler/Aot.h"
#include "compiler/DeriveBackward.h"
#include "compiler/ExportMlir.h"
#include "compiler/ExportOnnx.h"
#include "compiler/Program.h"
#include "compiler/Schedule.h"
#include "runtime/Files.h"
#include "tools/netc/Weights.h"

#include <algorithm>
#include <iostream>

namespace netc::cli {

CompileCommand::CompileCommand(CLI::App &app) : app_(app) {
    std::vector<std::string> emit_kinds = {"ast",     "graph", "params", "backward",
                                           "program", "onnx",  "mlir"};
    for (const auto &[kind, suffix] : aot_output_kinds()) emit_kinds.push_back(kind);
    app.add_option("FILE", file_, "model file (.net) to compile");
    app.add_option("-o,--output", output_,
                   "object file to write (out/name.o); the header goes beside it (out/name.h)");
    app.add_option("--target", target_, "Halide target string, e.g. host or x86-64-linux-avx2")
        ->capture_default_str();
    app.add_option("--weights", weights_,
                   "a checkpoint whose trained weights are compiled into the object, adding "
                   "<model>_predict_embedded");
    app.add_flag("--allow-nonfinite", allow_nonfinite_,
                 "compile in --weights holding NaN or infinite values (refused otherwise)");
    app.add_option("--total-steps", total_steps_,
                   "the training run's length in steps, compiled into the object for schedules "
                   "(cosine, linear, polynomial) without steps=N of their own")
        ->check(CLI::PositiveNumber);
    app.add_option("--schedule", schedule_, "how every pipeline is scheduled: " + strategy_names())
        ->capture_default_str()
        ->check(CLI::IsMember(strategy_list()));
    app.add_option("--emit", emit_,
                   "what to produce, comma-separated: ast, graph, params, backward (the graph "
                   "with its derived backward nodes) or program (the pipelines) print an "
                   "intermediate form; object, header, static-library, assembly, stmt-html are "
                   "written next to -o (default: object,header); onnx writes the inference "
                   "graph with --weights as an ONNX model to -o, mlir as MLIR (TOSA) text at "
                   "the batch of --batch")
        ->delimiter(',')
        ->allow_extra_args(false)  // `--emit=graph FILE`: FILE is the model, not a second kind
        ->check(CLI::IsMember(emit_kinds));
    app.add_option("--batch", batch_,
                   "with --emit=mlir: the batch of the exported function's static shapes "
                   "(default 1)")
        ->check(CLI::Range(1, 1 << 20));
}

std::optional<int> CompileCommand::run() {
    if (!app_.get_subcommands().empty()) return std::nullopt;
    return run_compile();
}

int CompileCommand::run_compile() {
    if (file_.empty()) {
        std::cerr << app_.help();
        return exit_user_error;
    }
    bool dump = false;
    for (const std::string &kind : emit_) {
        dump |= kind == "ast" || kind == "graph" || kind == "params" || kind == "backward" ||
                kind == "program";
    }
    if (dump && emit_.size() != 1) {
        std::cerr << "netc: --emit=ast, graph, params, backward and program print to stdout and "
                     "go alone\n";
        return exit_user_error;
    }
    std::string what = dump ? emit_[0] : "";
    if (what == "ast") {
        // The AST is printed even when later stages would fail, as long as it parsed.
        std::string read_error;
        Frontend f = load_model_file(file_, read_error);
        if (!read_error.empty()) {
            std::cerr << read_error << "\n";
            return exit_user_error;
        }
        f.diags->print(std::cerr);
        std::cout << ast::dump(f.ast);
        return f.ok() ? 0 : exit_user_error;
    }
    // The exports: the inference graph with trained weights, as ONNX or as MLIR.
    std::string exported;
    for (const char *format : {"onnx", "mlir"}) {
        if (std::find(emit_.begin(), emit_.end(), format) == emit_.end()) continue;
        std::string usage = std::string("netc FILE --weights CKPT --emit=") + format +
                            (std::string(format) == "mlir" ? " [--batch N]" : "") + " -o model." +
                            format;
        if (emit_.size() != 1) {
            std::cerr << "netc: --emit=" << format << " writes one "
                      << (std::string(format) == "onnx" ? "ONNX model" : "MLIR file")
                      << " and goes alone\n";
            return exit_user_error;
        }
        if (weights_.empty() || output_.empty()) {
            std::cerr << "netc: --emit=" << format
                      << " needs the trained weights and the file to write: " << usage << "\n";
            return exit_user_error;
        }
        exported = format;
    }
    if (batch_ != 0 && exported != "mlir") {
        std::cerr << "netc: --batch sets the batch of --emit=mlir's static shapes; it has no "
                     "other use here\n";
        return exit_user_error;
    }
    std::optional<Frontend> f = load_model(file_);
    if (!f) return exit_user_error;
    const Graph &graph = *f->graph;
    if (graph.is_knn() && !weights_.empty() && exported.empty()) {
        // 60,000 Fashion-MNIST samples are 188 MB of features: an object does not carry them.
        return user_error(file_ +
                          ": a kNN model's stored training set is not compiled in: leave out "
                          "--weights; the application passes the reference set to " +
                          graph.model + "_classify (the checkpoint's reference.features and " +
                          "reference.labels, or " + graph.model + "_features of its images)");
    }
    if (!exported.empty()) return run_export(*f, exported);
    if (what == "graph") {
        std::cout << netc::dump(graph);
        return 0;
    }
    if (what == "params") {
        std::cout << netc::dump(f->layout);
        return 0;
    }
    Strategy strategy = *parse_strategy(schedule_);  // checked by CLI11
    if (what == "backward" || what == "program") {
        Program program = build_program(graph, {strategy, !weights_.empty()});
        if (what == "program") {
            std::cout << netc::dump(program, f->layout);
            return 0;
        }
        if (graph.is_knn()) {
            return user_error(file_ + ": a kNN model trains nothing, so it has no backward graph");
        }
        if (!program.trainable) {
            return user_error(file_ + ": op '" + op_without_backward(graph)->name +
                              "' has no backward rule yet, so the model has no backward graph");
        }
        std::cout << netc::dump(program.train_graph);
        return 0;
    }
    if (output_.empty()) {
        std::cerr << "netc: no output file; give -o out/name.o (or "
                     "--emit=ast|graph|params|backward|program)\n";
        return exit_user_error;
    }
    AotOptions options;
    options.output = output_;
    options.target = target_;
    options.total_steps = total_steps_;
    options.strategy = strategy;
    if (!weights_.empty()) {
        EmbeddedWeights embedded;
        std::string weights_error;
        if (!load_weights(weights_, graph, f->layout, embedded, weights_error, allow_nonfinite_)) {
            return user_error(weights_error);
        }
        options.weights = std::move(embedded);
    }
    if (!emit_.empty()) options.emit = emit_;
    std::string error;
    if (!compile_aot(graph, f->layout, options, error)) return user_error(error);
    return 0;
}

int CompileCommand::run_export(const Frontend &f, const std::string &format) {
    const Graph &graph = *f.graph;
    EmbeddedWeights embedded;
    std::string weights_error;
    bool loaded =
        graph.is_knn()
            ? load_knn_weights(weights_, graph, f.layout, embedded, weights_error, allow_nonfinite_)
            : load_weights(weights_, graph, f.layout, embedded, weights_error, allow_nonfinite_);
    if (!loaded) return user_error(weights_error);
    Diagnostics export_diags(*f.source);  // the front end's were printed by load_model()
    std::optional<std::string> model =
        format == "onnx"
            ? export_onnx(graph, f.layout, embedded, export_diags)
            : export_mlir(graph, f.layout, embedded, batch_ == 0 ? 1 : batch_, export_diags);
    if (!model) {
        export_diags.print(std::cerr);
        int n = export_diags.error_count();
        std::cerr << n << " error" << (n == 1 ? "" : "s") << " in " << file_ << "\n";
        return exit_user_error;
    }
    runtime::Status written = runtime::write_file_atomically(
        output_, [&](const runtime::ByteSink &sink) { sink(model->data(), model->size()); });
    if (!written.ok()) return user_error(written.message());
    return 0;
}

}  // namespace netc::cli
