// The netc command line. Exit status: 0 success, 1 a user error (bad model, bad arguments,
// unreadable file), 70 an internal error (a bug in netc).

#include "compiler/Aot.h"
#include "compiler/DeriveBackward.h"
#include "compiler/ExportMlir.h"
#include "compiler/ExportOnnx.h"
#include "compiler/Frontend.h"
#include "compiler/GradCheck.h"
#include "compiler/Program.h"
#include "compiler/Schedule.h"
#include "compiler/Summary.h"
#include "compiler/Target.h"
#include "dsl/Error.h"
#include "runtime/Files.h"
#include "tools/netc/BenchCommand.h"
#include "tools/netc/Plot.h"
#include "tools/netc/Templates.h"
#include "tools/netc/TrainCommands.h"
#include "tools/netc/Tune.h"
#include "tools/netc/Weights.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>

namespace {

constexpr int exit_user_error = 1;
constexpr int exit_internal_error = 70;  // EX_SOFTWARE
constexpr const char *version = "0.1.0";

/// Runs the front end on `path` and prints its diagnostics; nullopt-like failure is reported by
/// returning false.
bool load(const std::string &path, netc::Frontend &out) {
    std::string read_error;
    out = netc::load_model_file(path, read_error);
    if (!read_error.empty()) {
        std::cerr << read_error << "\n";
        return false;
    }
    out.diags->print(std::cerr);
    if (!out.ok()) {
        int n = out.diags->error_count();
        std::cerr << n << " error" << (n == 1 ? "" : "s") << " in " << path << "\n";
        return false;
    }
    return true;
}

/// For `--version --verbose`: the host target netc compiles for, Halide's own report where netc
/// dropped features from it, and the CPU.
std::string host_description() {
    const netc::HostTarget &host = netc::host_target();
    std::string text = "host target: " + netc::describe_target(host.target) + "\ncpu: " + host.cpu;
    if (!host.dropped.empty()) {
        text += "\nHalide 14 reports: " + host.halide.to_string() + "\ndropped:";
        for (const std::string &d : host.dropped) text += "\n  " + d;
    }
    return text;
}

int run(int argc, char **argv) {
    CLI::App app{
        "netc: a compiler for declarative neural-network files (.net).\n"
        "Derives the backward graph, lowers to Halide and compiles to vectorized CPU code.",
        "netc"};
    // --verbose is read through its count, which parsing sets before any callback runs.
    CLI::Option *verbose =
        app.add_flag("--verbose")
            ->description("with --version: also the resolved host target and the CPU");
    app.set_version_flag("--version", [verbose] {
        std::string text = std::string("netc ") + version;
        if (verbose->count() > 0) text += "\n" + host_description();
        return text;
    });
    app.require_subcommand(0, 1);
    app.fallthrough(false);

    std::string file;
    std::vector<std::string> emit;
    std::string output;
    std::string target = "host";
    std::vector<std::string> emit_kinds = {"ast",     "graph", "params", "backward",
                                           "program", "onnx",  "mlir"};
    for (const auto &[kind, suffix] : netc::aot_output_kinds()) emit_kinds.push_back(kind);
    app.add_option("FILE", file, "model file (.net) to compile");
    app.add_option("-o,--output", output,
                   "object file to write (out/name.o); the header goes beside it (out/name.h)");
    app.add_option("--target", target, "Halide target string, e.g. host or x86-64-linux-avx2")
        ->capture_default_str();
    std::string weights;
    app.add_option("--weights", weights,
                   "a checkpoint whose trained weights are compiled into the object, adding "
                   "<model>_predict_embedded");
    bool allow_nonfinite = false;
    app.add_flag("--allow-nonfinite", allow_nonfinite,
                 "compile in --weights holding NaN or infinite values (refused otherwise)");
    int64_t total_steps = 0;
    app.add_option("--total-steps", total_steps,
                   "the training run's length in steps, compiled into the object for schedules "
                   "(cosine, linear, polynomial) without steps=N of their own")
        ->check(CLI::PositiveNumber);
    std::string schedule = "netc";
    app.add_option("--schedule", schedule,
                   "how every pipeline is scheduled: " + netc::strategy_names())
        ->capture_default_str()
        ->check(CLI::IsMember(netc::strategy_list()));
    app.add_option("--emit", emit,
                   "what to produce, comma-separated: ast, graph, params, backward (the graph "
                   "with its derived backward nodes) or program (the pipelines) print an "
                   "intermediate form; object, header, static-library, assembly, stmt-html are "
                   "written next to -o (default: object,header); onnx writes the inference "
                   "graph with --weights as an ONNX model to -o, mlir as MLIR (TOSA) text at "
                   "the batch of --batch")
        ->delimiter(',')
        ->allow_extra_args(false)  // `--emit=graph FILE`: FILE is the model, not a second kind
        ->check(CLI::IsMember(emit_kinds));

    int64_t batch = 0;  // 0: not given
    app.add_option("--batch", batch,
                   "with --emit=mlir: the batch of the exported function's static shapes "
                   "(default 1)")
        ->check(CLI::Range(1, 1 << 20));

    std::string check_file;
    CLI::App *check =
        app.add_subcommand("check", "report errors in a model file; exit 0 when clean");
    check->add_option("FILE", check_file, "model file (.net)")->required();

    std::string summary_file;
    CLI::App *summary = app.add_subcommand(
        "summary", "print a table of layers, output shapes, parameter counts and memory");
    summary->add_option("FILE", summary_file, "model file (.net)")->required();

    std::string gradcheck_file;
    netc::GradCheckOptions gradcheck_options;
    CLI::App *gradcheck = app.add_subcommand(
        "gradcheck", "check the derived gradients against central finite differences; exit 1 "
                     "when an error is above the threshold");
    gradcheck->add_option("FILE", gradcheck_file, "model file (.net)")->required();
    gradcheck->add_option("--batch", gradcheck_options.batch, "random samples per batch")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    gradcheck->add_option("--samples", gradcheck_options.samples, "entries checked per tensor")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    gradcheck->add_option("--step", gradcheck_options.step, "finite-difference step")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    gradcheck
        ->add_option("--threshold", gradcheck_options.threshold, "largest relative error allowed")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    gradcheck->add_option("--seed", gradcheck_options.seed, "seed of the data and parameters")
        ->capture_default_str();

    netc::cli::TrainCommands train_commands(app);  // train, eval, predict
    netc::cli::PlotCommand plot_command(app);
    netc::cli::TemplatesCommand templates_command(app);
    netc::cli::BenchCommand bench_command(app);
    netc::cli::TuneCommand tune_command(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        int code = app.exit(e);
        return code == 0 ? 0 : exit_user_error;
    }

    if (std::optional<int> code = train_commands.run()) return *code;
    if (std::optional<int> code = plot_command.run()) return *code;
    if (std::optional<int> code = templates_command.run()) return *code;
    if (std::optional<int> code = bench_command.run()) return *code;
    if (std::optional<int> code = tune_command.run()) return *code;
    netc::Frontend f;
    if (*check) {
        if (!load(check_file, f)) return exit_user_error;
        std::cout << check_file << ": ok (" << f.graph->nodes.size() - 1 << " layers, "
                  << f.layout.trainable << " parameters)\n";
        return 0;
    }
    if (*summary) {
        if (!load(summary_file, f)) return exit_user_error;
        std::cout << netc::summary_table(*f.graph, f.layout);
        return 0;
    }
    if (*gradcheck) {
        if (!load(gradcheck_file, f)) return exit_user_error;
        if (f.graph->is_knn()) {
            std::cerr << "netc: error: " << gradcheck_file
                      << ": a kNN model trains nothing, so it has no gradients to check\n";
            return exit_user_error;
        }
        netc::GradCheckReport report = netc::gradcheck(*f.graph, f.layout, gradcheck_options);
        std::cout << netc::format_report(*f.graph, report, gradcheck_options);
        return report.passed(gradcheck_options.threshold) ? 0 : exit_user_error;
    }
    if (file.empty()) {
        std::cerr << app.help();
        return exit_user_error;
    }
    bool dump = false;
    for (const std::string &kind : emit) {
        dump |= kind == "ast" || kind == "graph" || kind == "params" || kind == "backward" ||
                kind == "program";
    }
    if (dump && emit.size() != 1) {
        std::cerr << "netc: --emit=ast, graph, params, backward and program print to stdout and "
                     "go alone\n";
        return exit_user_error;
    }
    std::string what = dump ? emit[0] : "";
    if (what == "ast") {
        // The AST is printed even when later stages would fail, as long as it parsed.
        std::string read_error;
        f = netc::load_model_file(file, read_error);
        if (!read_error.empty()) {
            std::cerr << read_error << "\n";
            return exit_user_error;
        }
        f.diags->print(std::cerr);
        std::cout << netc::ast::dump(f.ast);
        return f.ok() ? 0 : exit_user_error;
    }
    // The exports: the inference graph with trained weights, as ONNX or as MLIR.
    std::string exported;
    for (const char *format : {"onnx", "mlir"}) {
        if (std::find(emit.begin(), emit.end(), format) == emit.end()) continue;
        std::string usage = std::string("netc FILE --weights CKPT --emit=") + format +
                            (std::string(format) == "mlir" ? " [--batch N]" : "") + " -o model." +
                            format;
        if (emit.size() != 1) {
            std::cerr << "netc: --emit=" << format << " writes one "
                      << (std::string(format) == "onnx" ? "ONNX model" : "MLIR file")
                      << " and goes alone\n";
            return exit_user_error;
        }
        if (weights.empty() || output.empty()) {
            std::cerr << "netc: --emit=" << format
                      << " needs the trained weights and the file to write: " << usage << "\n";
            return exit_user_error;
        }
        exported = format;
    }
    if (batch != 0 && exported != "mlir") {
        std::cerr << "netc: --batch sets the batch of --emit=mlir's static shapes; it has no "
                     "other use here\n";
        return exit_user_error;
    }
    if (!load(file, f)) return exit_user_error;
    if (f.graph->is_knn() && !weights.empty() && exported.empty()) {
        // 60,000 Fashion-MNIST samples are 188 MB of features: an object does not carry them.
        std::cerr << "netc: error: " << file
                  << ": a kNN model's stored training set is not compiled in: leave out "
                     "--weights; the application passes the reference set to "
                  << f.graph->model << "_classify (the checkpoint's reference.features and "
                  << "reference.labels, or " << f.graph->model << "_features of its images)\n";
        return exit_user_error;
    }
    if (!exported.empty()) {
        netc::EmbeddedWeights embedded;
        std::string weights_error;
        bool loaded = f.graph->is_knn()
                          ? netc::load_knn_weights(weights, *f.graph, f.layout, embedded,
                                                   weights_error, allow_nonfinite)
                          : netc::load_weights(weights, *f.graph, f.layout, embedded, weights_error,
                                               allow_nonfinite);
        if (!loaded) {
            std::cerr << "netc: error: " << weights_error << "\n";
            return exit_user_error;
        }
        netc::Diagnostics export_diags(*f.source);  // the front end's were printed by load()
        std::optional<std::string> model =
            exported == "onnx" ? netc::export_onnx(*f.graph, f.layout, embedded, export_diags)
                               : netc::export_mlir(*f.graph, f.layout, embedded,
                                                   batch == 0 ? 1 : batch, export_diags);
        if (!model) {
            export_diags.print(std::cerr);
            int n = export_diags.error_count();
            std::cerr << n << " error" << (n == 1 ? "" : "s") << " in " << file << "\n";
            return exit_user_error;
        }
        netc::runtime::Status written =
            netc::runtime::write_file_atomically(output, [&](const netc::runtime::ByteSink &sink) {
                sink(model->data(), model->size());
            });
        if (!written.ok()) {
            std::cerr << "netc: error: " << written.message() << "\n";
            return exit_user_error;
        }
        return 0;
    }
    if (what == "graph") {
        std::cout << netc::dump(*f.graph);
        return 0;
    }
    if (what == "params") {
        std::cout << netc::dump(f.layout);
        return 0;
    }
    netc::Strategy strategy = *netc::parse_strategy(schedule);  // checked by CLI11
    if (what == "backward" || what == "program") {
        netc::Program program = netc::build_program(*f.graph, {strategy, !weights.empty()});
        if (what == "program") {
            std::cout << netc::dump(program, f.layout);
            return 0;
        }
        if (f.graph->is_knn()) {
            std::cerr << "netc: error: " << file
                      << ": a kNN model trains nothing, so it has no backward graph\n";
            return exit_user_error;
        }
        if (!program.trainable) {
            std::cerr << "netc: error: " << file << ": op '"
                      << netc::op_without_backward(*f.graph)->name
                      << "' has no backward rule yet, so the model has no backward graph\n";
            return exit_user_error;
        }
        std::cout << netc::dump(program.train_graph);
        return 0;
    }
    if (output.empty()) {
        std::cerr << "netc: no output file; give -o out/name.o (or "
                     "--emit=ast|graph|params|backward|program)\n";
        return exit_user_error;
    }
    netc::AotOptions options;
    options.output = output;
    options.target = target;
    options.total_steps = total_steps;
    options.strategy = strategy;
    if (!weights.empty()) {
        netc::EmbeddedWeights embedded;
        std::string weights_error;
        if (!netc::load_weights(weights, *f.graph, f.layout, embedded, weights_error,
                                allow_nonfinite)) {
            std::cerr << "netc: error: " << weights_error << "\n";
            return exit_user_error;
        }
        options.weights = std::move(embedded);
    }
    if (!emit.empty()) options.emit = emit;
    std::string error;
    if (!netc::compile_aot(*f.graph, f.layout, options, error)) {
        std::cerr << "netc: error: " << error << "\n";
        return exit_user_error;
    }
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    try {
        return run(argc, argv);
    } catch (const netc::StrategyError &e) {
        // An autoscheduler that cannot schedule or compile a pipeline (netc train --schedule).
        std::cerr << "netc: error: " << e.what() << "\n";
        return exit_user_error;
    } catch (const netc::InternalError &e) {
        std::cerr << "netc: internal error: " << e.what()
                  << "\nThis is a bug in netc, not in your model; please report it with the model "
                     "file.\n";
        return exit_internal_error;
    } catch (const std::exception &e) {
        std::cerr << "netc: internal error: " << e.what() << "\n";
        return exit_internal_error;
    }
}
