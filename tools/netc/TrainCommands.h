#pragma once
// `netc train`, `netc eval` and `netc predict`: the subcommands that run a JIT-compiled model on
// data, through the runtime's training loop and checkpoints (runtime/Trainer.h).

#include "compiler/Graph.h"
#include "runtime/Knn.h"
#include "tools/netc/Command.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netc::cli {

class TrainCommands : public Command {
public:
    /// Adds the three subcommands to `app`.
    explicit TrainCommands(CLI::App &app);
    /// After parsing: the exit status of the subcommand that was chosen, or nullopt when none of
    /// them was. 0 success, 1 a user error, 130 training interrupted (a checkpoint was saved).
    std::optional<int> run() override;

private:
    int run_train();
    /// `netc train` of a kNN model: its training split's features become best.safetensors.
    int run_train_knn(const Graph &graph, runtime::NeighborModel &model);
    int run_eval();
    int run_predict();

    CLI::App *train_ = nullptr, *eval_ = nullptr, *predict_ = nullptr;
    std::string file_, data_dir_, out_dir_, weights_;
    int64_t epochs_ = 0, limit_ = 0, steps_ = 0;
    bool resume_ = false, json_ = false, allow_nonfinite_ = false;
    int top_ = 3;
    std::vector<std::string> inputs_;
    std::string schedule_ = "netc";  // the strategy (compiler/Schedule.h)
};

}  // namespace netc::cli
