// The netc command line. Exit status: 0 success, 1 a user error (bad model, bad arguments,
// unreadable file), 70 an internal error (a bug in netc).

#include "compiler/Schedule.h"
#include "compiler/Target.h"
#include "dsl/Error.h"
#include "tools/netc/BenchCommand.h"
#include "tools/netc/CheckCommands.h"
#include "tools/netc/Command.h"
#include "tools/netc/CompileCommand.h"
#include "tools/netc/Plot.h"
#include "tools/netc/Templates.h"
#include "tools/netc/TrainCommands.h"
#include "tools/netc/Tune.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <vector>

namespace {

using netc::cli::exit_internal_error;
using netc::cli::exit_user_error;
constexpr const char *version = "0.1.0";

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

    // Every command adds its options (the compile command's to the app itself, the others'
    // to their subcommands, listed in the help in this order); the first to answer runs.
    namespace cli = netc::cli;
    auto compile = std::make_unique<cli::CompileCommand>(app);
    std::vector<std::unique_ptr<cli::Command>> commands;
    commands.push_back(std::make_unique<cli::CheckCommand>(app));
    commands.push_back(std::make_unique<cli::SummaryCommand>(app));
    commands.push_back(std::make_unique<cli::GradcheckCommand>(app));
    commands.push_back(std::make_unique<cli::TrainCommands>(app));  // train, eval, predict
    commands.push_back(std::make_unique<cli::PlotCommand>(app));
    commands.push_back(std::make_unique<cli::TemplatesCommand>(app));
    commands.push_back(std::make_unique<cli::BenchCommand>(app));
    commands.push_back(std::make_unique<cli::TuneCommand>(app));
    commands.push_back(std::move(compile));  // when no subcommand was chosen

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        int code = app.exit(e);
        return code == 0 ? 0 : exit_user_error;
    }

    for (const std::unique_ptr<cli::Command> &command : commands) {
        if (std::optional<int> code = command->run()) return *code;
    }
    return exit_internal_error;  // unreachable: the compile command answers when no other does
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
