// `netc tune`: the search space (grids, ranges, the settings drawn from them, results.jsonl lines)
// in process, and the command end to end on a Fashion-MNIST subset: a kNN search over k, a
// random search, a linear classifier's learning rates with --refit, --resume, and the errors.

#include "tools/netc/Tune.h"
#include "runtime/TestFiles.h"
#include "tools/RunNetc.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace netc::cli;
using netc::test::read_text;
using netc::test::run_netc;
using netc::test::TempDir;

namespace {

std::vector<nlohmann::json> result_lines(const std::string &path) {
    std::vector<nlohmann::json> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
    return out;
}

bool is_png(const std::string &path) {
    const std::string bytes = read_text(path);
    return bytes.size() > 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("grids and ranges: parsed, with errors naming the argument") {
    std::string error;
    std::optional<SearchDim> k = parse_grid("k=1,3,5", error);
    REQUIRE(k);
    CHECK(k->name == "k");
    CHECK(k->values == std::vector<std::string>{"1", "3", "5"});
    CHECK_FALSE(parse_grid("k=1,,5", error));
    CHECK(error == "'k=1,,5': an empty value in the list");
    CHECK_FALSE(parse_grid("k", error));
    CHECK(error == "'k': expected NAME=VALUES");
    CHECK_FALSE(parse_grid("=1,2", error));

    std::optional<SearchDim> lr = parse_range("lr=1e-4:1e-1", error);
    REQUIRE(lr);
    CHECK(lr->lo == doctest::Approx(1e-4));
    CHECK(lr->hi == doctest::Approx(1e-1));
    CHECK(lr->log);
    CHECK_FALSE(lr->integer);
    std::optional<SearchDim> few = parse_range("k=1:9", error);
    REQUIRE(few);
    CHECK(few->integer);
    CHECK_FALSE(few->log);  // under a decade: uniform
    std::optional<SearchDim> batch = parse_range("batch=16:256", error);
    REQUIRE(batch);
    CHECK((batch->integer && batch->log));
    std::optional<SearchDim> p = parse_range("p=0:0.9", error);
    REQUIRE(p);
    CHECK_FALSE(p->log);  // starts at 0

    for (const char *bad : {"lr=0.1:0.01", "lr=0.1", "lr=a:b", "lr=1:inf", "lr=1:1"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_range(bad, error));
        CHECK(error == "'" + std::string(bad) + "': expected NAME=LO:HI with numbers LO < HI");
    }
}

TEST_CASE("a grid is every combination, the first hyperparameter varying slowest") {
    std::string error;
    std::vector<Setting> s =
        grid_settings({*parse_grid("lr=0.1,0.01", error), *parse_grid("batch=32,64,128", error)});
    REQUIRE(s.size() == 6);
    CHECK(setting_key(s[0]) == "lr=0.1 batch=32");
    CHECK(setting_key(s[1]) == "lr=0.1 batch=64");
    CHECK(setting_key(s[2]) == "lr=0.1 batch=128");
    CHECK(setting_key(s[3]) == "lr=0.01 batch=32");
    CHECK(setting_key(s[5]) == "lr=0.01 batch=128");
}

TEST_CASE("random settings: reproducible, in range, log-uniform across decades, every integer") {
    std::string error;
    const std::vector<SearchDim> dims = {*parse_range("lr=1e-4:1e-1", error),
                                         *parse_range("k=1:4", error),
                                         *parse_range("p=0.1:0.5", error)};
    const std::vector<Setting> a = random_settings(dims, 2000, 7);
    const std::vector<Setting> b = random_settings(dims, 2000, 7);
    const std::vector<Setting> c = random_settings(dims, 2000, 8);
    REQUIRE(a.size() == 2000);
    CHECK(setting_key(a[0]) == setting_key(b[0]));
    CHECK(setting_key(a[1999]) == setting_key(b[1999]));
    CHECK(setting_key(a[0]) != setting_key(c[0]));

    int below_geometric_mean = 0, below_middle_p = 0;
    std::set<std::string> ks;
    for (const Setting &s : a) {
        REQUIRE(s.size() == 3);
        const double lr = std::stod(s[0].value), p = std::stod(s[2].value);
        CHECK(lr >= 1e-4 * (1 - 1e-3));
        CHECK(lr <= 1e-1 * (1 + 1e-3));
        below_geometric_mean += lr < std::sqrt(1e-4 * 1e-1);
        ks.insert(s[1].value);
        CHECK(p >= 0.1);
        CHECK(p <= 0.5);
        below_middle_p += p < 0.3;
    }
    // Log-uniform: half the draws under the geometric mean (uniform would put 3 % there).
    CHECK(below_geometric_mean > 900);
    CHECK(below_geometric_mean < 1100);
    CHECK(below_middle_p > 900);
    CHECK(below_middle_p < 1100);
    CHECK(ks == std::set<std::string>{"1", "2", "3", "4"});  // both ends drawn
}

TEST_CASE("a results.jsonl line round-trips, and other lines are not taken for one") {
    SettingResult r;
    r.setting = {{"lr", "0.01"}, {"batch", "64"}};
    r.folds = {0.8, 0.82, 0.81};
    r.mean = 0.81;
    r.stddev = 0.01;
    r.seconds = 12.5;
    std::optional<SettingResult> back = parse_result_line(result_line(r));
    REQUIRE(back);
    CHECK(setting_key(back->setting) == "lr=0.01 batch=64");  // the order kept
    CHECK(back->folds == r.folds);
    CHECK(back->mean == r.mean);
    CHECK(back->stddev == r.stddev);
    CHECK(back->seconds == r.seconds);
    CHECK_FALSE(parse_result_line("{\"setting\": {}}"));
    CHECK_FALSE(parse_result_line("not json"));
    CHECK_FALSE(parse_result_line(""));
}

TEST_CASE("tune a kNN's k by 3 folds, then resume, then a random search") {
    TempDir dir;
    const std::string out = dir / "knn";
    netc::test::NetcRun r =
        run_netc("tune examples/fashion_knn.net --grid k=1,3,5 --folds 3 --limit 900 --out " + out);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.err, "tuning fashion_knn on 900 samples: 3 settings x 3 folds"));
    CHECK(contains(r.err, "fold 3/3:"));
    const std::vector<nlohmann::json> lines = result_lines(out + "/results.jsonl");
    REQUIRE(lines.size() == 3);
    std::vector<std::string> ks;
    for (const nlohmann::json &j : lines) {
        ks.push_back(j["setting"]["k"]);
        REQUIRE(j["folds"].size() == 3);
        const double mean = j["mean"];
        CHECK(mean > 0.6);  // 600 stored images: well above chance (0.1)
        CHECK(mean <= 1.0);
        double sum = 0;
        for (double f : j["folds"]) sum += f;
        CHECK(mean == doctest::Approx(sum / 3));
    }
    CHECK(ks == std::vector<std::string>{"1", "3", "5"});
    CHECK(is_png(out + "/tune.png"));
    CHECK(contains(r.out + r.err, "*"));  // the best marked

    // The same search again is refused; with --resume it has nothing left to do.
    netc::test::NetcRun again =
        run_netc("tune examples/fashion_knn.net --grid k=1,3,5 --folds 3 --limit 900 --out " + out);
    CHECK(again.status == 1);
    CHECK(contains(again.err, "results.jsonl exists: --resume continues that search"));
    netc::test::NetcRun resumed = run_netc(
        "tune examples/fashion_knn.net --grid k=1,3,5,7 --folds 3 --limit 900 --resume --out " +
        out);
    REQUIRE_MESSAGE(resumed.status == 0, resumed.err);
    CHECK(contains(resumed.err, "4 settings x 3 folds, 3 already done"));
    const std::vector<nlohmann::json> more = result_lines(out + "/results.jsonl");
    REQUIRE(more.size() == 4);
    CHECK(more[3]["setting"]["k"] == "7");
    CHECK(more[0] == lines[0]);  // the finished ones kept as they were

    // A random search over an integer range, seeded: the same draws twice.
    const std::string random_args = "tune examples/fashion_knn.net --random 3 --range k=1:9 "
                                    "--folds 2 --limit 600 --seed 5 --out ";
    netc::test::NetcRun first = run_netc(random_args + dir / "r1");
    REQUIRE_MESSAGE(first.status == 0, first.err);
    netc::test::NetcRun second = run_netc(random_args + dir / "r2");
    REQUIRE_MESSAGE(second.status == 0, second.err);
    const std::vector<nlohmann::json> r1 = result_lines(dir / "r1/results.jsonl"),
                                      r2 = result_lines(dir / "r2/results.jsonl");
    REQUIRE(r1.size() == 3);
    REQUIRE(r2.size() == 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK(r1[i]["setting"] == r2[i]["setting"]);
        CHECK(r1[i]["folds"] == r2[i]["folds"]);
    }
}

TEST_CASE("tune a linear classifier's learning rate by 2 folds and refit the best") {
    TempDir dir;
    const std::string out = dir / "linear";
    netc::test::NetcRun r = run_netc("tune examples/fashion_linear.net --grid lr=1e-2,1e-6 "
                                     "--grid epochs=1 --folds 2 --limit 600 --refit --out " +
                                     out);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(contains(r.err, "setting 2/2 (lr=1e-6 epochs=1) fold 2/2: accuracy"));
    const std::vector<nlohmann::json> lines = result_lines(out + "/results.jsonl");
    REQUIRE(lines.size() == 2);
    for (const nlohmann::json &j : lines) {
        CHECK(j["folds"].size() == 2);
        CHECK(j["mean"].get<double>() > 0.3);  // 3 steps on 300 images: well above chance
    }
    const bool first_best = lines[0]["mean"].get<double>() >= lines[1]["mean"].get<double>();
    CHECK(contains(r.err, std::string("refitting ") + (first_best ? "lr=1e-2" : "lr=1e-6") +
                              " epochs=1 on all 600"));
    CHECK(fs::exists(out + "/refit/best.safetensors"));
    CHECK(fs::exists(out + "/runs/0-1/last.safetensors"));  // each fold's own run kept
    CHECK(is_png(out + "/tune.png"));

    netc::test::NetcRun eval =
        run_netc("eval examples/fashion_linear.net --weights " + out + "/refit/best.safetensors");
    CHECK_MESSAGE(eval.status == 0, eval.err);
}

TEST_CASE("Ctrl-C keeps the finished settings (exit 130), and --resume finishes the search") {
    TempDir dir;
    const std::string out = dir / "interrupted";
    std::vector<std::string> args = {
        "tune",    std::string(NETC_SOURCE_DIR) + "/examples/fashion_linear.net",
        "--grid",  "lr=0.1,0.05,0.02,0.01,0.005,0.002",
        "--grid",  "epochs=2",
        "--folds", "2",
        "--limit", "6000",
        "--out",   out};
    int error = 0;
    const pid_t pid = netc::test::spawn_netc(args, dir / "log", error);
    REQUIRE(pid > 0);
    // Interrupted once the first setting is written.
    const std::string results = out + "/results.jsonl";
    for (int i = 0; i < 1200 && (!fs::exists(results) || result_lines(results).empty()); i++) {
        ::usleep(50 * 1000);
    }
    ::kill(pid, SIGINT);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    const std::string log = read_text(dir / "log");
    INFO(log);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 130);
    CHECK(contains(log, "finished settings are in " + results + " (continue with --resume)"));
    const size_t kept = result_lines(results).size();
    CHECK(kept >= 1);
    CHECK(kept < 6);

    args.push_back("--resume");
    std::string command;
    for (size_t i = 1; i < args.size(); i++) command += " '" + args[i] + "'";
    netc::test::NetcRun resumed = run_netc(args[0] + command);
    REQUIRE_MESSAGE(resumed.status == 0, resumed.err);
    CHECK(contains(resumed.err, std::to_string(kept) + " already done"));
    CHECK(result_lines(results).size() == 6);
}

TEST_CASE("tune's errors: the search space and the settings checked before anything runs") {
    TempDir dir;
    auto tune = [&](const std::string &args) {
        return run_netc("tune examples/fashion_linear.net --limit 300 --out " + dir / "t" + " " +
                        args);
    };
    netc::test::NetcRun none = tune("--folds 2");
    CHECK(none.status == 1);
    CHECK(contains(none.err, "give --grid NAME=V1,V2,... (grid search) or --random N with --range "
                             "NAME=LO:HI (random search)"));
    netc::test::NetcRun both = tune("--grid lr=0.1 --random 2 --range lr=0.1:1");
    CHECK(both.status == 1);
    netc::test::NetcRun unknown = tune("--grid k=1,3");
    CHECK(unknown.status == 1);
    CHECK(contains(unknown.err, "k: no setting of the file has an attribute 'k'"));
    netc::test::NetcRun twice = tune("--grid lr=0.1 --grid optimizer.lr=0.2");
    CHECK(twice.status == 1);
    CHECK(contains(twice.err, "lr and optimizer.lr are the same hyperparameter (optimizer.lr)"));
    netc::test::NetcRun out_of_range = tune("--grid lr=0.1,-1 --folds 2");
    CHECK(out_of_range.status == 1);
    CHECK(contains(out_of_range.err, "fashion_linear.net:"));  // located in the file
    CHECK(contains(out_of_range.err, "setting lr=-1 does not make a valid model"));
    netc::test::NetcRun one_fold = tune("--grid lr=0.1 --folds 1");
    CHECK(one_fold.status == 1);
    CHECK(contains(one_fold.err, "--folds: Value 1 not in range 2 to 1000"));
    CHECK_FALSE(fs::exists(dir / "t/results.jsonl"));  // nothing ran
}
