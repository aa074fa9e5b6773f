#include "tools/netc/CheckCommands.h"

#include "compiler/Summary.h"

#include <iostream>

namespace netc::cli {

CheckCommand::CheckCommand(CLI::App &app) {
    check_ = app.add_subcommand("check", "report errors in a model file; exit 0 when clean");
    check_->add_option("FILE", file_, "model file (.net)")->required();
}

std::optional<int> CheckCommand::run() {
    if (!*check_) return std::nullopt;
    std::optional<Frontend> f = load_model(file_);
    if (!f) return exit_user_error;
    std::cout << file_ << ": ok (" << f->graph->nodes.size() - 1 << " layers, "
              << f->layout.trainable << " parameters)\n";
    return 0;
}

SummaryCommand::SummaryCommand(CLI::App &app) {
    summary_ = app.add_subcommand(
        "summary", "print a table of layers, output shapes, parameter counts and memory");
    summary_->add_option("FILE", file_, "model file (.net)")->required();
}

std::optional<int> SummaryCommand::run() {
    if (!*summary_) return std::nullopt;
    std::optional<Frontend> f = load_model(file_);
    if (!f) return exit_user_error;
    std::cout << summary_table(*f->graph, f->layout);
    return 0;
}

GradcheckCommand::GradcheckCommand(CLI::App &app) {
    gradcheck_ = app.add_subcommand(
        "gradcheck", "check the derived gradients against central finite differences; exit 1 "
                     "when an error is above the threshold");
    gradcheck_->add_option("FILE", file_, "model file (.net)")->required();
    gradcheck_->add_option("--batch", options_.batch, "random samples per batch")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    gradcheck_->add_option("--samples", options_.samples, "entries checked per tensor")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    gradcheck_->add_option("--step", options_.step, "finite-difference step")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    gradcheck_->add_option("--threshold", options_.threshold, "largest relative error allowed")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    gradcheck_->add_option("--seed", options_.seed, "seed of the data and parameters")
        ->capture_default_str();
}

std::optional<int> GradcheckCommand::run() {
    if (!*gradcheck_) return std::nullopt;
    std::optional<Frontend> f = load_model(file_);
    if (!f) return exit_user_error;
    if (f->graph->is_knn()) {
        return user_error(file_ + ": a kNN model trains nothing, so it has no gradients to check");
    }
    GradCheckReport report = gradcheck(*f->graph, f->layout, options_);
    std::cout << format_report(*f->graph, report, options_);
    return report.passed(options_.threshold) ? 0 : exit_user_error;
}

}  // namespace netc::cli
