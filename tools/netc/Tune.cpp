#include "tools/netc/Tune.h"

#include "runtime/Batcher.h"
#include "runtime/Checkpoint.h"
#include "runtime/Files.h"
#include "runtime/Knn.h"
#include "runtime/Random.h"
#include "runtime/Trainer.h"
#include "tools/netc/Chart.h"
#include "tools/netc/JitTrainable.h"
#include "tools/netc/PlotFont.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <set>

namespace netc::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string fixed(double x, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, x);
    return text;
}

/// "NAME=REST" split at the first '=', both parts non-empty.
bool split_assignment(const std::string &text, std::string &name, std::string &rest,
                      std::string &error) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
        error = "'" + text + "': expected NAME=VALUES";
        return false;
    }
    name = text.substr(0, eq);
    rest = text.substr(eq + 1);
    return true;
}

bool parse_number(const std::string &text, double &out, bool &integer) {
    char *end = nullptr;
    out = std::strtod(text.c_str(), &end);
    integer = text.find_first_of(".eE") == std::string::npos;
    return !text.empty() && end == text.c_str() + text.size() && std::isfinite(out);
}

std::string format_value(double x, bool integer) {
    if (integer) return std::to_string((long long)std::llround(x));
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", x);
    return text;
}

}  // namespace

std::optional<SearchDim> parse_grid(const std::string &text, std::string &error) {
    SearchDim d;
    std::string values;
    if (!split_assignment(text, d.name, values, error)) return std::nullopt;
    size_t start = 0;
    while (start <= values.size()) {
        size_t comma = values.find(',', start);
        if (comma == std::string::npos) comma = values.size();
        const std::string v = values.substr(start, comma - start);
        if (v.empty()) {
            error = "'" + text + "': an empty value in the list";
            return std::nullopt;
        }
        d.values.push_back(v);
        start = comma + 1;
    }
    return d;
}

std::optional<SearchDim> parse_range(const std::string &text, std::string &error) {
    SearchDim d;
    std::string range;
    if (!split_assignment(text, d.name, range, error)) return std::nullopt;
    const size_t colon = range.find(':');
    bool lo_int = false, hi_int = false;
    if (colon == std::string::npos || !parse_number(range.substr(0, colon), d.lo, lo_int) ||
        !parse_number(range.substr(colon + 1), d.hi, hi_int) || !(d.lo < d.hi)) {
        error = "'" + text + "': expected NAME=LO:HI with numbers LO < HI";
        return std::nullopt;
    }
    d.integer = lo_int && hi_int;
    d.log = d.lo > 0 && d.hi >= 10 * d.lo;
    return d;
}

std::string setting_key(const Setting &s) {
    std::string out;
    for (const Override &o : s) out += (out.empty() ? "" : " ") + o.name + "=" + o.value;
    return out;
}

std::vector<Setting> grid_settings(const std::vector<SearchDim> &grids) {
    std::vector<Setting> out = {{}};
    for (const SearchDim &d : grids) {
        std::vector<Setting> next;
        for (const Setting &s : out) {
            for (const std::string &v : d.values) {
                Setting t = s;
                t.push_back({d.name, v});
                next.push_back(std::move(t));
            }
        }
        out = std::move(next);
    }
    return out;
}

std::vector<Setting> random_settings(const std::vector<SearchDim> &ranges, int count,
                                     uint64_t seed) {
    runtime::random::SplitMix64 rng(runtime::random::derive(seed, 0x54554e45ULL));  // "TUNE"
    std::vector<Setting> out;
    for (int i = 0; i < count; i++) {
        Setting s;
        for (const SearchDim &d : ranges) {
            const double u = (double)(rng.next() >> 11) * 0x1.0p-53;  // [0, 1)
            // Integers are drawn over [lo, hi + 1) and rounded down, so that hi is drawn too.
            const double top = d.integer ? d.hi + 1 : d.hi;
            double x = d.log ? std::exp(std::log(d.lo) + u * (std::log(top) - std::log(d.lo)))
                             : d.lo + u * (top - d.lo);
            if (d.integer) x = std::floor(x);
            s.push_back({d.name, format_value(std::min(x, d.hi), d.integer)});
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::string result_line(const SettingResult &r) {
    json setting = json::object();
    for (const Override &o : r.setting) setting[o.name] = o.value;
    std::vector<std::string> names;
    for (const Override &o : r.setting) names.push_back(o.name);
    json line = {{"setting", setting}, {"order", names},  {"folds", r.folds},
                 {"mean", r.mean},     {"std", r.stddev}, {"seconds", r.seconds}};
    return line.dump();
}

std::optional<SettingResult> parse_result_line(const std::string &line) {
    try {
        json j = json::parse(line);
        SettingResult r;
        for (const std::string &name : j.at("order").get<std::vector<std::string>>()) {
            r.setting.push_back({name, j.at("setting").at(name).get<std::string>()});
        }
        r.folds = j.at("folds").get<std::vector<double>>();
        r.mean = j.at("mean").get<double>();
        r.stddev = j.at("std").get<double>();
        r.seconds = j.at("seconds").get<double>();
        return r;
    } catch (const json::exception &) {
        return std::nullopt;
    }
}

namespace {

void summarize(SettingResult &r) {
    const double n = (double)r.folds.size();
    r.mean = std::accumulate(r.folds.begin(), r.folds.end(), 0.0) / n;
    double squares = 0;
    for (double a : r.folds) squares += (a - r.mean) * (a - r.mean);
    r.stddev = n > 1 ? std::sqrt(squares / (n - 1)) : 0.0;  // the sample standard deviation
}

/// A fold: the samples trained (or stored) on and those scored.
struct Split {
    std::vector<int64_t> train, held;
};

runtime::Result<std::vector<Split>> make_splits(const runtime::Dataset &data, int folds,
                                                double validation, uint64_t seed) {
    using R = runtime::Result<std::vector<Split>>;
    std::vector<Split> out;
    if (folds == 0) {
        runtime::Result<runtime::ValidationSplit> v =
            runtime::split_validation(data.count, validation, seed);
        if (!v) return v.status();
        if (v->validation.empty()) {
            return R::error("the train block holds out no validation split to score on: give "
                            "--folds N, or a train block with validation above 0");
        }
        out.push_back({v->train, v->validation});
        return out;
    }
    runtime::Result<std::vector<std::vector<int64_t>>> parts =
        runtime::stratified_folds(data.labels, folds, seed);
    if (!parts) return parts.status();
    for (size_t f = 0; f < parts->size(); f++) {
        Split s;
        s.held = (*parts)[f];
        for (size_t g = 0; g < parts->size(); g++) {
            if (g != f) s.train.insert(s.train.end(), (*parts)[g].begin(), (*parts)[g].end());
        }
        std::sort(s.train.begin(), s.train.end());
        out.push_back(std::move(s));
    }
    return out;
}

/// A split's training part as a kNN model stores it (normalized by `norm`, its statistics), at
/// least k samples.
runtime::Result<runtime::ReferenceSet> stored_part(runtime::NeighborModel &model,
                                                   const runtime::Dataset &data, const Split &split,
                                                   const runtime::Normalization &norm,
                                                   int64_t batch) {
    runtime::Result<runtime::ReferenceSet> ref =
        runtime::reference_of(model, data, split.train, norm, batch);
    if (ref && ref->count < model.k()) {
        return runtime::Result<runtime::ReferenceSet>::error(
            "a fold's training part holds " + std::to_string(ref->count) +
            " samples, fewer than k = " + std::to_string(model.k()));
    }
    return ref;
}

/// A kNN model's score on one split: the training part stored, the held-out part classified.
runtime::Result<double> score_knn(runtime::NeighborModel &model, const runtime::Dataset &data,
                                  const Split &split, int64_t batch) {
    const runtime::Normalization norm = runtime::compute_normalization(data, split.train);
    runtime::Result<runtime::ReferenceSet> ref = stored_part(model, data, split, norm, batch);
    if (!ref) return ref.status();
    runtime::PredictBatch classify = [&](const float *images, int64_t n, float *probs) {
        return model.classify(*ref, images, n, probs);
    };
    runtime::Result<runtime::Evaluation> e =
        runtime::evaluate(classify, model.info().data.classes, data, split.held, norm, batch);
    if (!e) return e.status();
    return e->accuracy;
}

/// The scores of several k on one split from one search for the largest: `model`'s k is the
/// largest of `ks`.
runtime::Result<std::vector<double>> score_ks(runtime::NeighborModel &model,
                                              const runtime::Dataset &data, const Split &split,
                                              const std::vector<int> &ks, bool weighted,
                                              int64_t batch) {
    const runtime::Normalization norm = runtime::compute_normalization(data, split.train);
    runtime::Result<runtime::ReferenceSet> ref = stored_part(model, data, split, norm, batch);
    if (!ref) return ref.status();
    runtime::BatcherOptions options;
    options.batch = batch;
    options.shuffle = false;
    options.normalization = norm;
    runtime::Batcher batcher(data, split.held, options);
    batcher.start_epoch(0);
    runtime::Batch b;
    const int kmax = model.k(), classes = model.info().data.classes;
    std::vector<int64_t> correct(ks.size(), 0);
    std::vector<int32_t> indices;
    std::vector<float> distances;
    while (batcher.next(b)) {
        indices.resize((size_t)(b.size * kmax));
        distances.resize((size_t)(b.size * kmax));
        runtime::Status s =
            model.neighbors(*ref, b.images.data(), b.size, indices.data(), distances.data());
        if (!s) return s;
        for (int64_t i = 0; i < b.size; i++) {
            for (size_t j = 0; j < ks.size(); j++) {
                const int32_t c =
                    runtime::vote(indices.data() + i * kmax, distances.data() + i * kmax, ks[j],
                                  ref->labels, classes, weighted);
                correct[j] += c == b.labels[(size_t)i];
            }
        }
    }
    std::vector<double> out;
    for (int64_t c : correct) out.push_back((double)c / (double)split.held.size());
    return out;
}

/// A trained model's score on one split: trained on its training part in `dir` (the train
/// block's settings, no validation split of its own), the held-out part evaluated.
runtime::Result<double> score_trained(JitTrainable &model, const Graph &graph,
                                      const runtime::Dataset &data, const Split &split,
                                      const std::string &dir) {
    using R = runtime::Result<double>;
    std::error_code ec;
    fs::remove_all(dir, ec);  // this search's own: a rerun trains the fold afresh
    runtime::TrainConfig config = train_config(graph);
    config.validation = 0;
    config.out_dir = dir;
    runtime::Result<runtime::TrainReport> report =
        runtime::train(model, runtime::subset(data, split.train), config);
    if (!report) return report.status();
    if (report->outcome == runtime::TrainOutcome::Interrupted) return R::error("interrupted");
    runtime::Result<runtime::Checkpoint> ckpt =
        runtime::load_checkpoint(dir + "/last.safetensors", model, false);
    if (!ckpt) return ckpt.status();
    runtime::Result<runtime::Evaluation> e = runtime::evaluate(
        model, ckpt->params.data(), data, split.held, ckpt->normalization, graph.train.batch);
    if (!e) return e.status();
    return e->accuracy;
}

}  // namespace

// ---- the figure ----

namespace {

/// The x axis of one hyperparameter: its values' range, logarithmic when they span decades.
struct ValueAxis {
    Axis axis;
    bool log = false;
    double position(double v) const { return log ? std::log10(v) : v; }
};

ValueAxis value_axis_of(const std::vector<double> &values, int ticks) {
    ValueAxis a;
    const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
    double lo = *lo_it, hi = *hi_it;
    a.log = lo > 0 && hi >= 100 * lo;
    if (a.log) lo = std::log10(lo), hi = std::log10(hi);
    if (lo == hi) lo -= 1, hi += 1;
    const double pad = (hi - lo) * 0.06;
    a.axis.step = a.log ? std::max(1.0, nice_step(lo, hi, ticks)) : nice_step(lo, hi, ticks);
    a.axis.lo = lo - pad;
    a.axis.hi = hi + pad;
    return a;
}

void draw_panel(Canvas &canvas, const std::vector<SettingResult> &results, size_t dim,
                const std::string &name, const SettingResult *best, int x0, int y0, int x1, int y1,
                const Axis &y) {
    const int s = 1, tick = 4;
    std::vector<double> values;
    for (const SettingResult &r : results)
        values.push_back(std::atof(r.setting[dim].value.c_str()));
    const ValueAxis x = value_axis_of(values, std::max(2, (x1 - x0) / 90));
    auto px = [&](double v) { return x.axis.map(x.position(v), x0 + 0.5, x1 - 0.5); };
    auto py = [&](double v) { return y.map(v, y1 - 0.5, y0 + 0.5); };
    for (double t : y.ticks()) {
        const int at = (int)std::floor(py(t));
        canvas.fill_rect(x0, at, x1, at + s, grid);
        const std::string label = tick_label(t, y.step);
        canvas.text(x0 - tick - 4 - Canvas::text_width(label, s), at - font_ascent / 2, label,
                    muted, s);
    }
    for (double t : x.axis.ticks()) {
        const int at = (int)std::floor(x.axis.map(t, x0 + 0.5, x1 - 0.5));
        canvas.fill_rect(at, y1, at + s, y1 + tick, frame);
        const std::string label =
            x.log ? tick_label(std::pow(10.0, t), std::pow(10.0, t)) : tick_label(t, x.axis.step);
        canvas.text(at - Canvas::text_width(label, s) / 2, y1 + tick + 2, label, muted, s);
    }
    canvas.fill_rect(x0, y0, x1, y0 + s, frame);
    canvas.fill_rect(x0, y1 - s, x1, y1, frame);
    canvas.fill_rect(x0, y0, x0 + s, y1, frame);
    canvas.fill_rect(x1 - s, y0, x1, y1, frame);
    canvas.text((x0 + x1 - Canvas::text_width(name, s)) / 2, y1 + tick + 16, name, ink, s);
    canvas.clip(x0, y0, x1, y1);
    for (size_t i = 0; i < results.size(); i++) {
        const SettingResult &r = results[i];
        const double cx = px(values[i]);
        const Rgb colour = &r == best ? validation_colour : train_colour;
        canvas.polyline({{cx, py(r.mean - r.stddev)}, {cx, py(r.mean + r.stddev)}}, 1.5, colour);
        for (double end : {r.mean - r.stddev, r.mean + r.stddev}) {
            canvas.polyline({{cx - 4, py(end)}, {cx + 4, py(end)}}, 1.5, colour);
        }
        canvas.disc(cx, py(r.mean), 3.5, colour);
    }
    canvas.unclip();
}

}  // namespace

Canvas draw_tune_chart(const std::vector<SettingResult> &results,
                       const std::vector<std::string> &names, const std::string &title) {
    const int panel_w = 420, panel_h = 320, left = 70, top = 40, gap = 70, bottom = 50;
    const int width = left + (int)names.size() * (panel_w + gap) - gap + 24;
    Canvas canvas(width, top + panel_h + bottom, background);
    canvas.text(16, 14, title, ink, 1);
    const SettingResult *best = nullptr;
    double lo = 1, hi = 0;
    for (const SettingResult &r : results) {
        if (!best || r.mean > best->mean) best = &r;
        lo = std::min(lo, r.mean - r.stddev);
        hi = std::max(hi, r.mean + r.stddev);
    }
    Axis y;
    if (lo >= hi) lo -= 0.01, hi += 0.01;
    y.step = nice_step(lo, hi, 6);
    y.lo = std::floor(lo / y.step) * y.step;
    y.hi = std::ceil(hi / y.step) * y.step;
    canvas.text_up(16, top + panel_h / 2 + Canvas::text_width("accuracy", 1) / 2, "accuracy", ink,
                   1);
    for (size_t d = 0; d < names.size(); d++) {
        const int x0 = left + (int)d * (panel_w + gap);
        draw_panel(canvas, results, d, names[d], best, x0, top, x0 + panel_w, top + panel_h, y);
    }
    return canvas;
}

// ---- the command ----

TuneCommand::TuneCommand(CLI::App &app) {
    tune_ = app.add_subcommand(
        "tune", "search hyperparameters by k-fold cross-validation or the validation split; "
                "writes DIR/results.jsonl and DIR/tune.png");
    tune_->add_option("FILE", file_, "model file (.net)")->required();
    tune_->add_option("--grid", grids_,
                      "NAME=V1,V2,...: values to try (repeat for a grid over several)");
    tune_->add_option("--random", random_, "draw N settings from the --range options")
        ->check(CLI::PositiveNumber);
    tune_->add_option("--range", ranges_,
                      "NAME=LO:HI for --random (log-uniform when HI >= 10 LO > 0; integers when "
                      "both are)");
    tune_
        ->add_option("--folds", folds_,
                     "k-fold cross-validation, stratified (default: the train block's "
                     "validation split)")
        ->check(CLI::Range(2, 1000));
    data_dir_ = runtime::fashion_mnist_default_dir;
    tune_->add_option("--data", data_dir_, "data set folder (as netc train)");
    tune_->add_option("--limit", limit_, "use only the first N training samples")
        ->check(CLI::PositiveNumber);
    tune_->add_option("--seed", seed_, "seed of the folds and of --random (default 0)");
    tune_->add_option("--out", out_dir_, "output directory (default: runs/<model>-tune)");
    tune_->add_flag("--refit", refit_,
                    "train the best setting on all the training data into DIR/refit");
    tune_->add_flag("--resume", resume_,
                    "continue a search: skip the settings DIR/results.jsonl already holds");
}

std::optional<int> TuneCommand::run() {
    if (*tune_) return run_tune();
    return std::nullopt;
}

namespace {

int fail(const std::string &message) {
    std::cerr << "netc tune: error: " << message << "\n";
    return exit_user_error;
}

/// A setting compiled: its front end and its model, JIT-compiled on first use.
struct Candidate {
    Setting setting;
    Frontend front;
    std::unique_ptr<JitTrainable> trained;
    std::unique_ptr<JitNeighbors> knn;
};

void print_table(const std::vector<SettingResult> &results, size_t best) {
    size_t width = 7;
    for (const SettingResult &r : results) width = std::max(width, setting_key(r.setting).size());
    std::printf("  %-*s  %8s  %8s  %5s  %8s\n", (int)width, "setting", "mean", "std", "folds",
                "seconds");
    for (size_t i = 0; i < results.size(); i++) {
        const SettingResult &r = results[i];
        std::printf("%s %-*s  %8.4f  %8.4f  %5zu  %8.1f\n", i == best ? "*" : " ", (int)width,
                    setting_key(r.setting).c_str(), r.mean, r.stddev, r.folds.size(), r.seconds);
    }
    std::printf("* best: %s, mean accuracy %.4f\n", setting_key(results[best].setting).c_str(),
                results[best].mean);
}

}  // namespace

int TuneCommand::run_tune() {
    std::optional<Frontend> loaded = load_model(file_);
    if (!loaded) return exit_user_error;
    const Frontend &base = *loaded;
    const Graph &graph = *base.graph;

    // The search space.
    std::vector<SearchDim> dims;
    std::vector<std::string> canonical_names;  // of dims, as resolve_override names them
    const bool random = random_ > 0;
    if (random == ranges_.empty() || (random && !grids_.empty()) || (!random && grids_.empty())) {
        return fail("give --grid NAME=V1,V2,... (grid search) or --random N with --range "
                    "NAME=LO:HI (random search)");
    }
    for (const std::string &text : random ? ranges_ : grids_) {
        std::string error;
        std::optional<SearchDim> d = random ? parse_range(text, error) : parse_grid(text, error);
        if (!d) return fail(error);
        std::optional<std::string> canonical = resolve_override(base.ast, d->name, error);
        if (!canonical) return fail(d->name + ": " + error);
        for (size_t i = 0; i < dims.size(); i++) {
            if (canonical_names[i] == *canonical) {
                return fail(dims[i].name + " and " + d->name + " are the same hyperparameter (" +
                            *canonical + "): search it once");
            }
        }
        canonical_names.push_back(*canonical);
        dims.push_back(std::move(*d));
    }
    std::vector<std::string> names;
    for (const SearchDim &d : dims) names.push_back(d.name);
    std::vector<Setting> settings =
        random ? random_settings(dims, random_, seed_) : grid_settings(dims);

    // Every setting checked before anything runs: a value out of range is a located error now.
    std::vector<Candidate> candidates;
    for (const Setting &s : settings) {
        std::string error;
        Candidate c{s, run_frontend_with(base, s, error), nullptr, nullptr};
        if (!error.empty()) return fail(error);
        c.front.diags->print(std::cerr);
        if (!c.front.ok())
            return fail("setting " + setting_key(s) + " does not make a valid model");
        candidates.push_back(std::move(c));
    }

    runtime::Result<runtime::Dataset> data =
        runtime::load_dataset(data_dir_, runtime::DataSplit::Train, data_spec(graph));
    if (!data) return fail(data.message());
    for (const std::string &w : data->warnings) std::cerr << "netc: warning: " << w << "\n";
    runtime::keep_first(*data, limit_);
    runtime::Result<std::vector<Split>> splits =
        make_splits(*data, folds_, graph.train.validation, seed_);
    if (!splits) return fail(splits.message());

    const std::string out_dir = out_dir_.empty() ? "runs/" + graph.model + "-tune" : out_dir_;
    const std::string results_path = out_dir + "/results.jsonl";
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) return fail(out_dir + ": cannot create the output directory: " + ec.message());
    std::vector<SettingResult> results;
    std::set<std::string> done;
    if (fs::exists(results_path)) {
        if (!resume_) {
            return fail(results_path + " exists: --resume continues that search, or choose "
                                       "another --out");
        }
        std::ifstream in(results_path);
        std::string line;
        while (std::getline(in, line)) {
            if (std::optional<SettingResult> r = parse_result_line(line)) {
                done.insert(setting_key(r->setting));
                results.push_back(std::move(*r));
            }
        }
    }
    std::ofstream log(results_path, std::ios::app);
    if (!log) return fail(results_path + ": cannot be written");
    auto record = [&](SettingResult r) {
        summarize(r);
        log << result_line(r) << "\n" << std::flush;
        results.push_back(std::move(r));
    };

    const size_t fold_count = splits->size();
    std::cerr << "tuning " << graph.model << " on " << data->count
              << " samples: " << settings.size() << " settings x "
              << (folds_ ? std::to_string(fold_count) + " folds" : "the validation split")
              << (done.empty() ? "" : ", " + std::to_string(done.size()) + " already done")
              << "; results in " << results_path << "\n";
    runtime::InterruptGuard guard;
    auto interrupted = [&] {
        std::cerr << "interrupted: the " << results.size() << " finished settings are in "
                  << results_path << " (continue with --resume)\n";
        return exit_interrupted;
    };

    // k alone, of a kNN model: each fold's neighbours once, for the largest k.
    const bool k_only = graph.is_knn() && dims.size() == 1 && canonical_names[0] == "classify.k";
    if (k_only) {
        std::vector<size_t> todo;
        std::vector<int> ks;
        for (size_t i = 0; i < candidates.size(); i++) {
            if (done.count(setting_key(candidates[i].setting))) continue;
            todo.push_back(i);
            ks.push_back(knn_k(*candidates[i].front.graph));
        }
        if (!todo.empty()) {
            const size_t largest =
                todo[(size_t)(std::max_element(ks.begin(), ks.end()) - ks.begin())];
            const Graph &g = *candidates[largest].front.graph;
            JitNeighbors model(g, candidates[largest].front.layout);
            const bool weighted = g.classifier->attrs.get_enum("vote") == "distance";
            std::vector<SettingResult> partial(todo.size());
            auto t0 = Clock::now();
            for (size_t f = 0; f < fold_count; f++) {
                runtime::Result<std::vector<double>> scores =
                    score_ks(model, *data, (*splits)[f], ks, weighted, g.train.batch);
                if (!scores) return fail(scores.message());
                std::cerr << "fold " << f + 1 << "/" << fold_count << ":";
                for (size_t j = 0; j < todo.size(); j++) {
                    partial[j].folds.push_back((*scores)[j]);
                    std::cerr << " " << setting_key(candidates[todo[j]].setting) << " "
                              << fixed((*scores)[j], 4);
                }
                std::cerr << "\n";
                if (runtime::interrupt_requested()) return interrupted();
            }
            const double seconds = seconds_since(t0);
            for (size_t j = 0; j < todo.size(); j++) {
                partial[j].setting = candidates[todo[j]].setting;
                partial[j].seconds = seconds / (double)todo.size();  // shared by all
                record(std::move(partial[j]));
            }
        }
    } else {
        for (size_t i = 0; i < candidates.size(); i++) {
            Candidate &c = candidates[i];
            const std::string key = setting_key(c.setting);
            if (done.count(key)) continue;
            const Graph &g = *c.front.graph;
            SettingResult r;
            r.setting = c.setting;
            auto t0 = Clock::now();
            for (size_t f = 0; f < fold_count; f++) {
                runtime::Result<double> score = runtime::Result<double>::error("");
                if (g.is_knn()) {
                    if (!c.knn) c.knn = std::make_unique<JitNeighbors>(g, c.front.layout);
                    score = score_knn(*c.knn, *data, (*splits)[f], g.train.batch);
                } else {
                    if (!c.trained) c.trained = std::make_unique<JitTrainable>(g, c.front.layout);
                    score = score_trained(*c.trained, g, *data, (*splits)[f],
                                          out_dir + "/runs/" + std::to_string(i) + "-" +
                                              std::to_string(f));
                }
                if (runtime::interrupt_requested()) return interrupted();
                if (!score) return fail(key + ": " + score.message());
                r.folds.push_back(*score);
                std::cerr << "setting " << i + 1 << "/" << candidates.size() << " (" << key
                          << ") fold " << f + 1 << "/" << fold_count << ": accuracy "
                          << fixed(*score, 4) << " (" << fixed(seconds_since(t0), 1) << " s)\n";
            }
            r.seconds = seconds_since(t0);
            record(std::move(r));
        }
    }

    // The table and the figure, of every setting searched (the resumed ones too).
    size_t best = 0;
    for (size_t i = 1; i < results.size(); i++) {
        if (results[i].mean > results[best].mean) best = i;
    }
    print_table(results, best);
    const std::string png = out_dir + "/tune.png";
    Canvas chart =
        draw_tune_chart(results, names, graph.model + ": held-out accuracy, mean +-1 std");
    std::vector<uint8_t> bytes = chart.png();
    runtime::Status written = runtime::write_file_atomically(
        png, [&](const runtime::ByteSink &sink) { sink(bytes.data(), bytes.size()); });
    if (!written.ok()) return fail(written.message());
    std::cerr << "wrote " << results_path << " and " << png << "\n";
    if (!refit_) return 0;

    // The best setting on all the training data.
    std::string refit_error;
    Frontend chosen = run_frontend_with(base, results[best].setting, refit_error);
    if (!chosen.ok()) return fail("the best setting no longer makes a valid model");
    const Graph &g = *chosen.graph;
    const std::string refit_dir = out_dir + "/refit";
    fs::remove_all(refit_dir, ec);
    std::cerr << "refitting " << setting_key(results[best].setting) << " on all " << data->count
              << " samples into " << refit_dir << "\n";
    if (g.is_knn()) {
        JitNeighbors model(g, chosen.layout);
        runtime::Result<runtime::KnnFit> fit = runtime::fit_knn(model, *data, knn_config(g));
        if (!fit) return fail(fit.message());
        fs::create_directories(refit_dir, ec);
        runtime::Status s = runtime::save_knn_checkpoint(refit_dir + "/best.safetensors", model,
                                                         *fit, data->class_names, g.train.seed);
        if (!s) return fail(s.message());
    } else {
        JitTrainable model(g, chosen.layout);
        runtime::TrainConfig config = train_config(g);
        config.out_dir = refit_dir;
        config.progress = &std::cerr;
        runtime::Result<runtime::TrainReport> report = runtime::train(model, *data, config);
        if (!report) return fail(report.message());
        if (report->outcome == runtime::TrainOutcome::Interrupted) return interrupted();
    }
    std::cerr << "wrote " << refit_dir << "/best.safetensors\n";
    return 0;
}

}  // namespace netc::cli
