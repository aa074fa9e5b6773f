#pragma once
// What every subcommand of the netc command line shares: its shape (a Command), its exit
// statuses, and loading its model file.
//
// A command is a class: its constructor adds the subcommand (or, for TrainCommands, a family of
// them) with its options to the CLI11 app; once the app has parsed the command line, run() runs
// the command that was chosen and returns its exit status, or nullopt when it was not chosen.
// tools/netc/main.cpp makes one of each and runs the first that answers.

#include "compiler/Frontend.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>
#include <string>

namespace netc::cli {

constexpr int exit_user_error = 1;       // a bad model, bad arguments, an unreadable file
constexpr int exit_internal_error = 70;  // EX_SOFTWARE: a bug in netc
constexpr int exit_interrupted = 130;    // 128 + SIGINT, as shells report it

class Command {
public:
    virtual ~Command() = default;
    /// After parsing: the exit status of this command when it was chosen, nullopt otherwise.
    virtual std::optional<int> run() = 0;
};

/// The front end on the model file `path` (compiler/Frontend.h), its diagnostics (warnings too)
/// printed to `err`. On a user error, nullopt, once `err` has been told what it was: why the
/// file cannot be read, or, after the diagnostics, "N errors in PATH".
std::optional<Frontend> load_model(const std::string &path, std::ostream &err = std::cerr);

/// Prints "netc: error: MESSAGE" to std::cerr; returns exit_user_error.
int user_error(const std::string &message);

}  // namespace netc::cli
