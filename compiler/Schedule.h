#pragma once
// The schedule stage: one pass over a program's pipelines that gives every Func of a pipeline a
// schedule, by a named strategy. Lowering (compiler/Lower.h) emits algorithm only; nothing else
// in the compiler calls compute_root, vectorize or parallel.
//
//   netc           the hand schedules: each op's schedule hint (compiler/ops/), with target
//                  branches, and the program's own stages (edges, losses, the update)
//   mullapudi2016  Halide 14's autoscheduler plugins, loaded from Debian's libhalide14-0-dev
//   adams2019
//   li2018
//   none           every Func at root, vectorized over its innermost dimension: a baseline for
//                  correctness, not speed

#include "compiler/Graph.h"
#include "compiler/LowerForward.h"

#include <Halide.h>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace netc {

struct LoweredPipeline;

enum class Strategy {
    Netc,
    Mullapudi2016,
    Adams2019,
    Li2018,
    None,
};

/// "netc", "mullapudi2016", ...
const char *strategy_name(Strategy s);
/// The strategy called `name`, or nullopt.
std::optional<Strategy> parse_strategy(const std::string &name);
/// Every strategy, in the order `netc bench` lists them.
const std::vector<Strategy> &all_strategies();
/// "netc, mullapudi2016, adams2019, li2018, none", for help texts and errors.
std::string strategy_names();
/// The same names as a list, for option checks.
std::vector<std::string> strategy_list();

/// A strategy could not schedule or compile a pipeline: names both, with Halide's reason.
class StrategyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Gives every Func of `pipeline` a schedule by `strategy`. Throws StrategyError when an
/// autoscheduler fails (or its plugin cannot be loaded).
void schedule_pipeline(LoweredPipeline &pipeline, Strategy strategy, const Halide::Target &target);

/// Runs `compile` (a JIT or AOT compilation of `pipeline_name`), turning Halide's errors into a
/// StrategyError that names the strategy and the pipeline.
void compile_reporting(Strategy strategy, const std::string &pipeline_name,
                       const std::function<void()> &compile);

/// The netc strategy on the nodes alone: each op's schedule hint. `outputs` are node ids whose
/// values leave the pipeline (tests evaluate single nodes this way).
void schedule_nodes(const Graph &graph, Forward &forward, const Halide::Target &target,
                    const std::vector<int> &outputs);

/// The natural vector width in floats of a target (16 with AVX-512, 8 with AVX2, 4 otherwise).
int vector_width(const Halide::Target &target);

}  // namespace netc
