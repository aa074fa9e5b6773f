#include "tools/netc/BenchCommand.h"

#include "compiler/DeriveBackward.h"
#include "compiler/Flops.h"
#include "compiler/Frontend.h"
#include "compiler/Jit.h"
#include "compiler/Peak.h"
#include "compiler/Schedule.h"
#include "compiler/Target.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <tuple>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace netc::cli {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int predict_batch = 256;                  // "a large batch": throughput of inference
constexpr int predict_reps = 9, latency_reps = 25;  // calls timed; their medians are reported

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// What a child process gave back.
struct ChildOutcome {
    enum Status { Ok, Failed, TimedOut } status = Failed;
    json result;        // the job's JSON object; when Failed after compiling, what it measured
    std::string error;  // when not Ok: why, in a sentence
};

/// The last line of `text` that is not empty, for a crashed child's stderr.
std::string last_line(const std::string &text) {
    size_t end = text.find_last_not_of("\n ");
    if (end == std::string::npos) return "";
    size_t newline = text.rfind('\n', end);
    size_t begin = newline == std::string::npos ? 0 : newline + 1;
    return text.substr(begin, end + 1 - begin);
}

/// Runs `job` in a forked child and waits at most `timeout` seconds for its JSON line. The child
/// turns an exception into {"error": what}; its stderr (Halide's and the autoschedulers' chatter)
/// is kept by the parent only to explain a crash.
ChildOutcome run_in_child(const std::function<json()> &job, double timeout) {
    ChildOutcome outcome;
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) {
        outcome.error = "cannot create a pipe";
        return outcome;
    }
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
        outcome.error = "cannot fork";
        return outcome;
    }
    if (pid == 0) {
        close(out[0]);
        close(err[0]);
        dup2(err[1], STDERR_FILENO);
        dup2(err[1], STDOUT_FILENO);  // nothing a job prints may reach the table
        json result;
        try {
            result = job();
        } catch (const std::exception &e) {
            result = json{{"error", e.what()}};
        }
        std::string line = result.dump() + "\n";
        for (size_t done = 0; done < line.size();) {
            ssize_t n = write(out[1], line.data() + done, line.size() - done);
            if (n <= 0) break;
            done += (size_t)n;
        }
        _exit(0);
    }
    close(out[1]);
    close(err[1]);
    std::string text, chatter;
    Clock::time_point start = Clock::now();
    bool out_open = true, err_open = true, timed_out = false;
    while (out_open || err_open) {
        double left = timeout - seconds_since(start);
        if (left <= 0) {
            timed_out = true;
            break;
        }
        pollfd fds[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
        int ready = poll(fds, 2, (int)std::ceil(std::min(left, 1.0) * 1000));
        if (ready < 0 && errno != EINTR) {
            kill(pid, SIGKILL);  // cannot watch it: never wait on it unwatched
            break;
        }
        char buffer[4096];
        for (int i = 0; i < 2; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
            if (n <= 0) {
                (i == 0 ? out_open : err_open) = false;
                continue;
            }
            (i == 0 ? text : chatter).append(buffer, (size_t)n);
            if (chatter.size() > 65536) chatter.erase(0, chatter.size() - 8192);
        }
    }
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(out[0]);
    close(err[0]);
    if (timed_out) {
        outcome.status = ChildOutcome::TimedOut;
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%g", timeout);
        outcome.error = std::string("timed out after ") + seconds + " s";
        return outcome;
    }
    json result = json::parse(text, nullptr, false);
    if (WIFSIGNALED(status) || result.is_discarded() || !result.is_object()) {
        outcome.error = WIFSIGNALED(status)
                            ? std::string("crashed (") + strsignal(WTERMSIG(status)) + ")"
                            : std::string("ended without a result");
        std::string said = last_line(chatter);
        if (!said.empty()) outcome.error += ": " + said;
        return outcome;
    }
    if (result.contains("error")) {
        outcome.error = result["error"].get<std::string>();
        outcome.result = std::move(result);
        return outcome;
    }
    outcome.status = ChildOutcome::Ok;
    outcome.result = std::move(result);
    return outcome;
}

/// Random images in [0, 1] and labels, the same for every strategy (a fixed seed).
struct SyntheticData {
    std::vector<float> images;
    std::vector<int32_t> labels;
    SyntheticData(const Graph &graph, int batch, uint32_t seed) {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
        std::uniform_int_distribution<int32_t> label(0, (int32_t)graph.classes - 1);
        images.resize((size_t)batch * graph.input.elements());
        for (float &p : images) p = pixel(rng);
        labels.resize(batch);
        for (int32_t &l : labels) l = label(rng);
    }
};

/// Runs `f`, naming the pipeline `what` in the message of anything it throws.
template <class F> auto naming(const std::string &what, F f) {
    try {
        return f();
    } catch (const StrategyError &) {
        throw;  // names the strategy and pipeline already
    } catch (const std::exception &e) {
        throw std::runtime_error(what + " failed: " + e.what());
    }
}

/// Times train_step (when the model trains), predict at batch 256 and at batch 1 into `out`, in
/// seconds. The timed train steps stop early, after at least one, once they have used 40 % of
/// `budget` seconds, so a slow strategy still reports.
void time_pipelines(JitModel &model, const Graph &graph, int batch, int steps, double budget,
                    json &out) {
    Clock::time_point started = Clock::now();
    std::vector<float> params(model.layout().total);
    model.init(1, params.data());
    if (model.program().trainable) {
        SyntheticData data(graph, batch, 1);
        std::vector<float> opt_state(model.opt_state_count(), 0.0f);
        model.set_total_steps(steps + 1);
        auto step = [&](int64_t i) {
            Clock::time_point t = Clock::now();
            naming("pipeline train_step at batch " + std::to_string(batch), [&] {
                model.train_step(params.data(), opt_state.data(), data.images.data(),
                                 data.labels.data(), batch, i);
            });
            return seconds_since(t);
        };
        step(0);  // the first call allocates what later calls reuse
        std::vector<double> times;
        for (int i = 1; i <= steps; i++) {
            times.push_back(step(i));
            if (seconds_since(started) > 0.4 * budget) break;
        }
        out["train_step_s"] = median(times);
        out["steps_timed"] = times.size();
    }
    model.init(1, params.data());  // predict on initialized weights, not on trained ones
    for (auto [batch, reps, key] : {std::tuple{predict_batch, predict_reps, "predict_s"},
                                    std::tuple{1, latency_reps, "latency_s"}}) {
        const int n = batch;  // clang 14 cannot capture a structured binding
        SyntheticData data(graph, n, 2);
        std::vector<float> probs((size_t)n * graph.classes);
        std::vector<double> times;
        for (int i = 0; i <= reps; i++) {
            Clock::time_point t = Clock::now();
            naming("pipeline predict at batch " + std::to_string(n),
                   [&] { model.predict(params.data(), data.images.data(), n, probs.data()); });
            if (i > 0) times.push_back(seconds_since(t));  // call 0 warms up
        }
        out[key] = median(times);
    }
}

/// The child's job for one strategy: compile init, predict and train_step, then time them
/// (train figures are absent for a model that cannot train). A pipeline that fails when run adds
/// "error" to the figures measured before it; one that fails to compile throws.
json measure_strategy(const Frontend &front, Strategy strategy, const Halide::Target &target,
                      int batch, int steps, double timeout) {
    const Graph &graph = *front.graph;
    Clock::time_point started = Clock::now();
    JitModel model(graph, front.layout, target, strategy);
    std::vector<std::string> pipelines = {"init", "predict"};
    if (model.program().trainable) pipelines.push_back("train_step");
    Clock::time_point start = Clock::now();
    naming("compiling", [&] { model.compile(pipelines); });
    json out = {{"compile_s", seconds_since(start)}};
    try {
        time_pipelines(model, graph, batch, steps, timeout - seconds_since(started), out);
    } catch (const std::exception &e) {
        out["error"] = e.what();  // with the figures measured before
    }
    return out;
}

/// "1,234,567"
std::string grouped(double value) {
    const std::string digits = std::to_string((long long)std::llround(value));
    // Built forwards, not by insert(): GCC 12 warns falsely (-Wrestrict) on the inserts.
    std::string out;
    for (size_t i = 0; i < digits.size(); i++) {
        const size_t left = digits.size() - i;
        if (i > 0 && left % 3 == 0 && digits[i - 1] != '-') out += ',';
        out += digits[i];
    }
    return out;
}

std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

std::string pad_left(const std::string &s, size_t width) {
    return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

std::string pad_right(const std::string &s, size_t width) {
    return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

/// "4.05 MFLOP", "0.581 GFLOP": three significant digits in the unit that fits.
std::string flop_text(double flops) {
    const char *unit = flops >= 1e8 ? "GFLOP" : flops >= 1e5 ? "MFLOP" : "kFLOP";
    double scaled = flops / (flops >= 1e8 ? 1e9 : flops >= 1e5 ? 1e6 : 1e3);
    char text[64];
    std::snprintf(text, sizeof text, "%.3g %s", scaled, unit);
    return text;
}

/// The first line of a message, for a table cell.
std::string first_line(const std::string &s) { return s.substr(0, s.find('\n')); }

}  // namespace

BenchCommand::BenchCommand(CLI::App &app) {
    bench_ = app.add_subcommand(
        "bench", "compile the model under each schedule strategy and time train step, predict "
                 "and batch-1 latency on synthetic data, against the machine's measured peak");
    bench_->add_option("FILE", file_, "model file (.net)")->required();
    bench_
        ->add_option("--strategies", strategies_,
                     "comma-separated strategies to compare: " + strategy_names() +
                         " (default: all)")
        ->delimiter(',');
    bench_->add_option("--batch", batch_, "train step batch (default: the train block's)")
        ->check(CLI::Range(1, 65536));
    bench_->add_option("--steps", steps_, "timed train steps; the median is reported")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    bench_->add_option("--timeout", timeout_, "seconds each strategy may take, compile included")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    bench_->add_flag("--json", json_, "print one JSON object instead of the table");
}

std::optional<int> BenchCommand::run() {
    if (*bench_) return run_bench();
    return std::nullopt;
}

int BenchCommand::run_bench() {
    std::vector<Strategy> strategies;
    for (const std::string &name : strategies_) {
        std::optional<Strategy> s = parse_strategy(name);
        if (!s) {
            std::cerr << "netc bench: unknown strategy '" << name << "'; expected "
                      << strategy_names() << "\n";
            return exit_user_error;
        }
        if (std::find(strategies.begin(), strategies.end(), *s) == strategies.end()) {
            strategies.push_back(*s);
        }
    }
    if (strategies.empty()) strategies = all_strategies();

    std::optional<Frontend> front = load_model(file_);
    if (!front) return exit_user_error;
    const Graph &graph = *front->graph;
    if (graph.is_knn()) {
        std::cerr << "netc bench: " << file_
                  << " is a kNN model, which has no train step or predict to time: netc eval "
                     "reports its classification time (\"seconds\" in --json)\n";
        return exit_user_error;
    }
    int batch = (int)(batch_ > 0 ? batch_ : graph.train.batch);
    const OpDef *untrainable = op_without_backward(graph);
    // The parent counts and forks; it compiles nothing, so every child starts clean.
    Halide::Target target = default_jit_target();
    double predict_flops = count_flops(graph, 1);
    std::optional<double> step_flops;
    if (!untrainable) step_flops = count_train_step_flops(graph, batch);

    std::cerr << "netc bench: measuring the peak FMA rate ...\n";
    ChildOutcome peak_run = run_in_child(
        [&] {
            return json{{"gflops", measure_peak_gflops(target)}};
        },
        timeout_);
    std::optional<double> peak;
    if (peak_run.status == ChildOutcome::Ok) peak = peak_run.result["gflops"].get<double>();

    json rows = json::array();
    int ran = 0;
    for (size_t i = 0; i < strategies.size(); i++) {
        const char *name = strategy_name(strategies[i]);
        std::cerr << "netc bench: [" << i + 1 << "/" << strategies.size() << "] " << name
                  << ": compiling and timing ...\n";
        ChildOutcome r = run_in_child(
            [&] {
                return measure_strategy(*front, strategies[i], target, batch, steps_, timeout_);
            },
            timeout_);
        json row = {{"strategy", name},
                    {"status", r.status == ChildOutcome::Ok         ? "ok"
                               : r.status == ChildOutcome::TimedOut ? "timed out"
                                                                    : "failed"}};
        if (r.status != ChildOutcome::Ok) row["error"] = r.error;
        ran += r.status == ChildOutcome::Ok;
        // A failure after compiling keeps the figures measured before it.
        const json &m = r.result;
        auto figure = [&](const char *key) -> std::optional<double> {
            if (!m.is_object() || !m.contains(key)) return std::nullopt;
            return m[key].get<double>();
        };
        auto put = [&](const char *key, std::optional<double> value) {
            row[key] = value ? json(*value) : json();
        };
        put("compile_s", figure("compile_s"));
        std::optional<double> step = figure("train_step_s");
        put("train_step_ms", step ? std::optional(*step * 1e3) : std::nullopt);
        put("train_img_s", step ? std::optional(batch / *step) : std::nullopt);
        std::optional<double> gflops;
        if (step) gflops = *step_flops / *step * 1e-9;
        put("gflops", gflops);
        put("peak_fraction", gflops && peak ? std::optional(*gflops / *peak) : std::nullopt);
        if (step) row["steps_timed"] = m["steps_timed"];
        std::optional<double> predict = figure("predict_s"), latency = figure("latency_s");
        put("predict_img_s", predict ? std::optional(predict_batch / *predict) : std::nullopt);
        put("latency_ms", latency ? std::optional(*latency * 1e3) : std::nullopt);
        rows.push_back(row);
    }

    const HostTarget &host = host_target();
    if (json_) {
        json report = {
            {"model", graph.model},
            {"file", file_},
            {"batch", batch},
            {"steps", steps_},
            {"predict_batch", predict_batch},
            {"target", target.to_string()},
            {"cpu", host.cpu},
            {"peak_gflops", peak ? json(*peak) : json()},
            {"train_step_flops", step_flops ? json(*step_flops) : json()},
            {"predict_flops_per_image", predict_flops},
            {"strategies", rows},
        };
        if (!peak) report["peak_error"] = peak_run.error;
        if (untrainable)
            report["predict_only"] = std::string(untrainable->name) + " has no backward rule";
        std::cout << report.dump(2) << "\n";
        return ran > 0 ? 0 : exit_user_error;
    }

    std::cout << "netc bench " << file_ << ": model " << graph.model << ", train batch " << batch
              << ", median of " << steps_ << " steps, synthetic data\n"
              << "target " << describe_target(target) << ", cpu " << host.cpu << "\n"
              << "peak "
              << (peak ? fixed(*peak, 1) + " GFLOP/s (FMA kernel on every hardware thread)"
                       : "not measured: " + peak_run.error)
              << "\n";
    if (step_flops) {
        std::cout << "train step " << flop_text(*step_flops) << "; ";
    } else {
        std::cout << "predict only (" << untrainable->name << " has no backward rule); ";
    }
    std::cout << "predict " << flop_text(predict_flops) << " per image\n\n";
    const std::vector<std::pair<std::string, size_t>> columns = {
        {"strategy", 14}, {"compile s", 10}, {"step ms", 10},       {"img/s", 11},
        {"GFLOP/s", 10},  {"of peak", 9},    {"predict img/s", 15}, {"batch-1 ms", 12}};
    for (size_t c = 0; c < columns.size(); c++) {
        std::cout << (c == 0 ? pad_right(columns[c].first, columns[c].second)
                             : pad_left(columns[c].first, columns[c].second));
    }
    std::cout << "\n";
    for (const json &row : rows) {
        std::cout << pad_right(row["strategy"].get<std::string>(), columns[0].second);
        std::string error =
            row.contains("error") ? first_line(row["error"].get<std::string>()) : "";
        std::string said = row["status"] == "timed out" ? error : "failed: " + error;
        if (row["compile_s"].is_null()) {
            std::cout << said << "\n";
            continue;
        }
        auto cell = [&](const char *key, const std::function<std::string(double)> &format) {
            return row[key].is_null() ? std::string("-") : format(row[key].get<double>());
        };
        auto decimals = [](int d) { return [d](double v) { return fixed(v, d); }; };
        std::vector<std::string> cells = {
            cell("compile_s", decimals(2)),
            cell("train_step_ms", decimals(2)),
            cell("train_img_s", grouped),
            cell("gflops", decimals(1)),
            cell("peak_fraction", [](double v) { return fixed(100 * v, 0) + " %"; }),
            cell("predict_img_s", grouped),
            cell("latency_ms", decimals(3)),
        };
        for (size_t c = 0; c < cells.size(); c++) {
            std::cout << pad_left(cells[c], columns[c + 1].second);
        }
        if (!error.empty()) std::cout << "\n" << std::string(columns[0].second, ' ') << said;
        std::cout << "\n";
    }
    return ran > 0 ? 0 : exit_user_error;
}

}  // namespace netc::cli
