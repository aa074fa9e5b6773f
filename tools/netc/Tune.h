#pragma once
// `netc tune FILE`: hyperparameter search scored by k-fold cross-validation (stratified folds,
// runtime/Batcher.h) or by the train block's validation split. A setting is a list of overrides
// (compiler/Overrides.h) applied to the file; each is compiled once and trained (or, for a kNN
// model, fitted) once per fold. Results go to DIR/results.jsonl as each setting finishes, so an
// interrupted search keeps them and `--resume` skips them; DIR/tune.png draws the score against
// each searched hyperparameter; `--refit` trains the best setting on all the data.
//
// A kNN model whose search varies k alone computes each fold's neighbours once, for the largest
// k, and lets every k vote from them (runtime/Knn.h vote).

#include "compiler/Overrides.h"
#include "tools/netc/Canvas.h"
#include "tools/netc/Command.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netc::cli {

/// One searched hyperparameter: a grid's values, or a random search's range.
struct SearchDim {
    std::string name;                 // as written: "k", "optimizer.lr"
    std::vector<std::string> values;  // --grid NAME=v1,v2,...
    double lo = 0, hi = 0;            // --range NAME=LO:HI
    bool integer = false;             // both ends written as integers: draws are rounded
    bool log = false;                 // lo > 0 and hi >= 10 lo: drawn log-uniformly
};

/// "k=1,3,5" -> {k, [1, 3, 5]}; "lr=1e-4:1e-1" -> a range. Errors name the argument.
std::optional<SearchDim> parse_grid(const std::string &text, std::string &error);
std::optional<SearchDim> parse_range(const std::string &text, std::string &error);

using Setting = std::vector<Override>;

/// "k=5 lr=0.01": a setting's key in results.jsonl and the table.
std::string setting_key(const Setting &s);

/// Every combination of the grids, the first grid varying slowest.
std::vector<Setting> grid_settings(const std::vector<SearchDim> &grids);
/// `count` settings drawn from the ranges, from `seed`: reproducible.
std::vector<Setting> random_settings(const std::vector<SearchDim> &ranges, int count,
                                     uint64_t seed);

struct SettingResult {
    Setting setting;
    std::vector<double> folds;  // held-out accuracy of each fold
    double mean = 0, stddev = 0;
    double seconds = 0;  // compiling, training (or fitting) and scoring its folds
};

/// One results.jsonl line, and back (null on a line that is not one).
std::string result_line(const SettingResult &r);
std::optional<SettingResult> parse_result_line(const std::string &line);

/// The figure: one panel per searched hyperparameter, each setting's mean score at its value
/// with a bar of +-1 standard deviation, the best setting marked.
Canvas draw_tune_chart(const std::vector<SettingResult> &results,
                       const std::vector<std::string> &names, const std::string &title);

class TuneCommand : public Command {
public:
    explicit TuneCommand(CLI::App &app);
    /// After parsing: the exit status of `tune` when it was chosen, nullopt otherwise.
    std::optional<int> run() override;

private:
    int run_tune();

    CLI::App *tune_ = nullptr;
    std::string file_, data_dir_, out_dir_;
    std::vector<std::string> grids_, ranges_;
    int random_ = 0, folds_ = 0;
    int64_t limit_ = 0;
    uint64_t seed_ = 0;
    bool refit_ = false, resume_ = false;
};

}  // namespace netc::cli
