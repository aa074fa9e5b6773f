#pragma once
// `netc bench FILE`: compiles a model under each schedule strategy (compiler/Schedule.h) and
// measures it on synthetic data, one table row (or JSON object) per strategy: compile seconds,
// the train step's median time, images per second, GFLOP/s (FLOPs counted from the graph,
// compiler/Flops.h) and the fraction of the machine's peak (compiler/Peak.h), predict throughput
// at batch 256 and the batch-1 latency.
//
// Every JIT compilation runs in a child process (the peak kernel's too), forked while netc itself
// has compiled nothing and started no threads: a strategy that crashes, fails or searches too long
// (Adams2019) costs its own row, never the others. A child reports one JSON line through a pipe;
// one past --timeout is killed.

#include "tools/netc/Command.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netc::cli {

class BenchCommand : public Command {
public:
    /// Adds the `bench` subcommand to `app`.
    explicit BenchCommand(CLI::App &app);
    /// After parsing: the exit status of `bench` when it was chosen (0 when at least one strategy
    /// compiled and ran, 1 on a user error or when none did), nullopt otherwise.
    std::optional<int> run() override;

private:
    int run_bench();

    CLI::App *bench_ = nullptr;
    std::string file_;
    std::vector<std::string> strategies_;
    int64_t batch_ = 0;  // 0: the train block's
    int steps_ = 20;
    double timeout_ = 120;
    bool json_ = false;
};

}  // namespace netc::cli
