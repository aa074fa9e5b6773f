#pragma once
// `netc check`, `netc summary` and `netc gradcheck`: the subcommands that look at a model
// without data. check reports its errors; summary prints its table of layers (compiler/Summary.h);
// gradcheck checks its derived gradients against finite differences (compiler/GradCheck.h).

#include "compiler/GradCheck.h"
#include "tools/netc/Command.h"

#include <string>

namespace netc::cli {

class CheckCommand : public Command {
public:
    /// Adds the `check` subcommand to `app`.
    explicit CheckCommand(CLI::App &app);
    /// 0 when the model is clean, 1 when it has errors.
    std::optional<int> run() override;

private:
    CLI::App *check_ = nullptr;
    std::string file_;
};

class SummaryCommand : public Command {
public:
    /// Adds the `summary` subcommand to `app`.
    explicit SummaryCommand(CLI::App &app);
    /// 0, or 1 when the model has errors.
    std::optional<int> run() override;

private:
    CLI::App *summary_ = nullptr;
    std::string file_;
};

class GradcheckCommand : public Command {
public:
    /// Adds the `gradcheck` subcommand to `app`.
    explicit GradcheckCommand(CLI::App &app);
    /// 0 when every error is within the threshold; 1 when one is above it, or on a user error.
    std::optional<int> run() override;

private:
    CLI::App *gradcheck_ = nullptr;
    std::string file_;
    GradCheckOptions options_;
};

}  // namespace netc::cli
