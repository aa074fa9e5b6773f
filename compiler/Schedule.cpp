#include "compiler/Schedule.h"

#include "compiler/Knn.h"
#include "compiler/LowerProgram.h"
#include "compiler/ParamLayout.h"
#include "compiler/ops/Op.h"
#include "dsl/Error.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

namespace netc {

using namespace Halide;

const std::vector<Strategy> &all_strategies() {
    static const std::vector<Strategy> all = {Strategy::Netc, Strategy::Mullapudi2016,
                                              Strategy::Adams2019, Strategy::Li2018,
                                              Strategy::None};
    return all;
}

const char *strategy_name(Strategy s) {
    switch (s) {
    case Strategy::Netc: return "netc";
    case Strategy::Mullapudi2016: return "mullapudi2016";
    case Strategy::Adams2019: return "adams2019";
    case Strategy::Li2018: return "li2018";
    case Strategy::None: return "none";
    }
    return "?";
}

std::optional<Strategy> parse_strategy(const std::string &name) {
    for (Strategy s : all_strategies()) {
        if (name == strategy_name(s)) return s;
    }
    return std::nullopt;
}

std::vector<std::string> strategy_list() {
    std::vector<std::string> out;
    for (Strategy s : all_strategies()) out.push_back(strategy_name(s));
    return out;
}

std::string strategy_names() {
    std::string out;
    for (Strategy s : all_strategies())
        out += (out.empty() ? "" : ", ") + std::string(strategy_name(s));
    return out;
}

int vector_width(const Target &target) {
    if (target.has_feature(Target::AVX512)) return 16;
    if (target.has_feature(Target::AVX2) || target.has_feature(Target::AVX)) return 8;
    return 4;
}

namespace {

/// Whether `user` reads the value of node `value` once an element (ScheduleCtx::users_read_once).
bool reads_once(const Node &user, int value) {
    if (user.op->elementwise) return true;
    if (!user.op->reads_once) return false;
    for (size_t k = 0; k < user.inputs.size(); k++) {
        if (user.inputs[k] == value && !user.op->reads_once(user, (int)k)) return false;
    }
    return true;
}

}  // namespace

void schedule_nodes(const Graph &graph, Forward &fwd, const Target &target,
                    const std::vector<int> &outputs) {
    int width = vector_width(target);
    // The (c, x, y, n) view of the NCHW rows (compiler/ops/Input.cpp)
    ScheduleCtx edge{graph, target, width, false, false};
    edge.is_output = std::find(outputs.begin(), outputs.end(), 0) != outputs.end();
    graph.nodes[0].op->schedule(edge, graph.nodes[0], fwd.values[0]);
    for (size_t i = 1; i < graph.nodes.size(); i++) {
        const Node &node = graph.nodes[i];
        if (node.op->updates_arena) continue;  // no value: part of the arena's update
        ScheduleCtx ctx{graph, target, width, false, true};
        ctx.is_output = (int)i + 1 == graph.forward_count ||
                        std::find(outputs.begin(), outputs.end(), (int)i) != outputs.end();
        std::vector<int> users = graph.users((int)i);
        for (int u : users) ctx.users_read_once &= reads_once(graph.nodes[u], (int)i);
        if (users.empty()) ctx.users_read_once = false;
        internal_assert(node.op->schedule);
        node.op->schedule(ctx, node, fwd.values[i]);
    }
}

namespace {

/// An arena Func whose update k fills layout entry k over ranges[k] (undefined: no update):
/// at root, each update vectorized along the tensor's innermost dimension, and a large
/// tensor's rows shared between the threads.
/// Halide cannot see that offset + flat(r) is injective in r; it is (a row-major index), and
/// each element reads the arena only at its own index, so neither lanes nor threads touch each
/// other's elements. Measured on examples/fashion_cnn (2-core Zen 5, Halide's profiler, Adam
/// over 421 K parameters): the train step's update on one thread 0.78 ms, on rows in parallel
/// 0.67 ms (1.2 threads busy on average: besides fc1's weight the tensors are small).
void schedule_arena(Func f, const std::vector<RDom> &ranges, const ParamLayout &layout, int width) {
    f.compute_root();
    int definition = 0;
    for (size_t k = 0; k < ranges.size(); k++) {
        if (!ranges[k].defined()) continue;
        Stage update = f.update(definition++);
        const Shape &shape = layout.entries[k].shape;
        const bool vectors = shape.dims.back() >= width;
        const bool rows = ranges[k].dimensions() >= 2 && shape.elements() >= 16384;
        if (vectors || rows) update.allow_race_conditions();
        if (vectors) update.vectorize(ranges[k][0], width, TailStrategy::GuardWithIf);
        if (rows) update.parallel(ranges[k][ranges[k].dimensions() - 1]);
        if (!vectors && !rows) update.unscheduled();  // a handful of floats: a plain loop
    }
}

/// The hand schedules: each node's op hint, then the pipeline's own stages.
void schedule_netc(LoweredPipeline &p, const ParamLayout &layout, const Target &target) {
    if (p.knn) {
        schedule_knn(*p.graph, *p.knn, target);
        return;
    }
    int width = vector_width(target);
    if (!p.forward.values.empty()) schedule_nodes(*p.graph, p.forward, target, {});
    for (auto &[name, f] : p.stages) {
        if (name == "input") continue;  // the edge: scheduled with the nodes
        if (name == "probs") {
            f.compute_root().parallel(dims().n);
        } else if (name == "init" || name == "gradient" || name == "update") {
            schedule_arena(f, p.ranges.at(name), layout, width);
        } else {
            // the losses, the learning rate, the image's gradient: small, or computed once, at
            // root before anything reads them.
            f.compute_root();
        }
    }
}

/// Every Func at root, its innermost dimension vectorized: a baseline for correctness.
void schedule_none(LoweredPipeline &p, const Target &target) {
    int width = vector_width(target);
    std::map<std::string, Internal::Function> all;
    for (const Func &out : p.outputs) {
        all[out.name()] = out.function();
        for (const auto &[name, f] : Internal::find_transitive_calls(out.function())) all[name] = f;
    }
    for (auto &[name, function] : all) {
        Func f(function);
        f.compute_root();
        const std::string &n = name;  // clang 14 cannot capture a structured binding
        bool output = std::any_of(p.outputs.begin(), p.outputs.end(),
                                  [&](const Func &o) { return o.name() == n; });
        if (f.dimensions() > 0 && !output) {
            f.vectorize(f.args()[0], width, TailStrategy::GuardWithIf);
        }
    }
}

const char *plugin_name(Strategy s) {
    switch (s) {
    case Strategy::Mullapudi2016: return "Mullapudi2016";
    case Strategy::Adams2019: return "Adams2019";
    case Strategy::Li2018: return "Li2018";
    default: internal_error("not an autoscheduler strategy");
    }
}

void load_plugin_once(Strategy s) {
    static std::mutex mutex;
    static std::map<Strategy, bool> loaded;
    std::lock_guard<std::mutex> lock(mutex);
    if (loaded[s]) return;
    std::string path =
        std::string(NETC_HALIDE_PLUGIN_DIR) + "/libautoschedule_" + strategy_name(s) + ".so";
    try {
        load_plugin(path);
    } catch (const Halide::Error &e) {
        throw StrategyError(std::string("strategy ") + strategy_name(s) + ": cannot load " + path +
                            ": " + e.what());
    }
    loaded[s] = true;
}

}  // namespace

void compile_reporting(Strategy strategy, const std::string &pipeline_name,
                       const std::function<void()> &compile) {
    try {
        compile();
    } catch (const Halide::Error &e) {
        std::string what = e.what();
        while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
        throw StrategyError(std::string("strategy ") + strategy_name(strategy) +
                            " failed on pipeline " + pipeline_name + ": " + what);
    }
}

void schedule_pipeline(LoweredPipeline &p, Strategy strategy, const Target &target) {
    internal_assert(p.spec);
    const ParamLayout *layout = p.layout;
    switch (strategy) {
    case Strategy::Netc: schedule_netc(p, *layout, target); return;
    case Strategy::None: schedule_none(p, target); return;
    case Strategy::Mullapudi2016:
    case Strategy::Adams2019:
    case Strategy::Li2018: {
        if (p.spec->name == "init") {
            // init runs once per model, and Halide 14's autoschedulers fail on its counter-based
            // generator ("Div of mismatched types" in their bounds analysis): the hand schedule.
            schedule_netc(p, *layout, target);
            return;
        }
        load_plugin_once(strategy);
        int cores = std::max(1u, std::thread::hardware_concurrency());
        MachineParams machine(cores, 16 * 1024 * 1024, 40);
        compile_reporting(strategy, p.spec->name, [&] {
            p.pipeline.auto_schedule(plugin_name(strategy), target, machine);
        });
        return;
    }
    }
}

}  // namespace netc
