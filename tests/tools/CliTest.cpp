// The netc command line end to end: runs the built binary (NETC_BINARY) and checks exit status,
// stdout and stderr. Exit status: 0 success, 1 a user error.
#include "tools/RunNetc.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

using Run = netc::test::NetcRun;
using netc::test::run_netc;

std::string slurp(const fs::path &path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// A scratch directory of this test process, removed at exit.
const fs::path &scratch() {
    static struct Dir {
        fs::path path = fs::temp_directory_path() / ("netc_cli_test_" + std::to_string(getpid()));
        Dir() { fs::create_directories(path); }
        ~Dir() { fs::remove_all(path); }
    } dir;
    return dir.path;
}

fs::path write_file(const std::string &name, const std::string &text) {
    fs::path path = scratch() / name;
    std::ofstream(path) << text;
    return path;
}

bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

const char *const examples[] = {"cifar_resnet", "fashion_cnn", "fashion_linear", "fashion_mlp",
                                "fashion_svm"};

}  // namespace

TEST_CASE("netc check exits 0 on every example") {
    for (const char *name : examples) {
        CAPTURE(name);
        std::string path = std::string("examples/") + name + ".net";
        Run r = run_netc("check " + path);
        CHECK(r.status == 0);
        CHECK(r.err == "");
        CHECK(r.out.rfind(path + ": ok (", 0) == 0);
    }
    CHECK(run_netc("check examples/fashion_cnn.net").out ==
          "examples/fashion_cnn.net: ok (13 layers, 421834 parameters)\n");
}

TEST_CASE("netc check exits 1 with file:line:col: error: on a bad file") {
    fs::path bad = write_file("bad.net", "model m {\n"
                                         "  input 1x28x28\n"
                                         "  classes 10\n"
                                         "  flatten\n"
                                         "  dense(units=10, unit=3)\n"
                                         "}\n");
    Run r = run_netc("check '" + bad.string() + "'");
    CHECK(r.status == 1);
    CHECK(r.out == "");
    CHECK(r.err == bad.string() +
                       ":5:19: error: unknown attribute 'unit' for dense; did you mean "
                       "'units'?\n"
                       "    dense(units=10, unit=3)\n"
                       "                    ^\n"
                       "1 error in " +
                       bad.string() + "\n");
}

TEST_CASE("netc check exits 1 on a missing file") {
    Run r = run_netc("check does/not/exist.net");
    CHECK(r.status == 1);
    CHECK(r.err == "does/not/exist.net: error: cannot open file: No such file or directory\n");
}

TEST_CASE("--help works for netc and every subcommand") {
    Run top = run_netc("--help");
    CHECK(top.status == 0);
    CHECK(contains(top.out, "Usage: netc [OPTIONS] [FILE] [SUBCOMMAND]"));
    CHECK(contains(top.out, "--emit"));
    CHECK(contains(top.out, "--version"));
    // Every subcommand the top-level help lists, so a new one is covered without a test change.
    std::vector<std::string> subcommands;
    size_t list = top.out.find("Subcommands:\n");
    REQUIRE(list != std::string::npos);
    std::istringstream lines(top.out.substr(list + 13));
    for (std::string line; std::getline(lines, line) && !line.empty();) {
        std::istringstream words(line);
        std::string name;
        words >> name;
        subcommands.push_back(name);
    }
    CHECK(subcommands.size() >= 3);
    for (const char *expected : {"check", "summary", "gradcheck", "train", "eval", "predict"}) {
        CHECK(std::find(subcommands.begin(), subcommands.end(), expected) != subcommands.end());
    }
    for (const std::string &sub : subcommands) {
        CAPTURE(sub);
        Run r = run_netc(sub + " --help");
        CHECK(r.status == 0);
        CHECK(r.err == "");
        CHECK(contains(r.out, "Usage: netc " + sub + " [OPTIONS] FILE"));
        Run h = run_netc(sub + " -h");
        CHECK(h.status == 0);
        CHECK(h.out == r.out);
    }
}

TEST_CASE("--version prints the project's version") {
    Run r = run_netc("--version");
    CHECK(r.status == 0);
    CHECK(r.out == std::string("netc ") + NETC_VERSION + "\n");
    for (const char *args : {"--version --verbose", "--verbose --version"}) {
        CAPTURE(args);
        Run v = run_netc(args);
        CHECK(v.status == 0);
        CHECK(v.out.rfind(std::string("netc ") + NETC_VERSION + "\nhost target: x86-64-", 0) == 0);
        CHECK(contains(v.out, " floats per vector)\ncpu: "));
    }
}

TEST_CASE("bad command lines exit 1") {
    CHECK(run_netc("").status == 1);  // no file, no subcommand: help on stderr
    CHECK(contains(run_netc("").err, "Usage: netc"));
    CHECK(run_netc("--no-such-option examples/fashion_cnn.net").status == 1);
    CHECK(run_netc("check").status == 1);
    CHECK(contains(run_netc("check").err, "FILE is required"));
    CHECK(run_netc("--emit=nonsense examples/fashion_cnn.net").status == 1);
    Run both = run_netc("--emit=ast,graph examples/fashion_cnn.net");
    CHECK(both.status == 1);
    CHECK(both.err == "netc: --emit=ast, graph, params, backward and program print to stdout and "
                      "go alone\n");
}

TEST_CASE("--emit=ast|graph|params FILE print the front end's dumps") {
    Run ast = run_netc("--emit=ast examples/fashion_linear.net");
    CHECK(ast.status == 0);
    CHECK(ast.out.rfind("2:1 model fashion_linear\n  3:3 input 1x28x28\n", 0) == 0);
    Run graph = run_netc("--emit graph examples/fashion_linear.net");
    CHECK(graph.status == 0);
    CHECK(graph.out.rfind("graph fashion_linear input 1x28x28 classes 10\n"
                          "  %0 input = input : 1x28x28\n"
                          "  %1 flatten_1 = flatten(%0) : 784\n",
                          0) == 0);
    Run params = run_netc("examples/fashion_linear.net --emit=params");
    CHECK(params.status == 0);
    CHECK(params.out == "fc.weight [10, 784] offset 0\n"
                        "fc.bias [10] offset 7840\n"
                        "total 7856 floats, 7850 trainable\n");
}

TEST_CASE("--emit=backward|program print the middle end's dumps; --schedule picks the strategy") {
    Run backward = run_netc("--emit=backward examples/fashion_linear.net");
    CHECK(backward.status == 0);
    CHECK(backward.out.find("backward\n  %3 d_logits = loss_grad(%2) softmax_cross_entropy("
                            "label_smoothing=0) : 10\n") != std::string::npos);
    // The training passes' nodes: the loss, the regularizer's term, the update of each tensor.
    CHECK(backward.out.find("\nloss\n  %6 sample_loss = sample_loss(%2) softmax_cross_entropy(") !=
          std::string::npos);
    CHECK(backward.out.find("regularization_grad(%4) l2=0.0001 : 10x784 (no batch)\n") !=
          std::string::npos);
    CHECK(backward.out.find(" = optimizer_update(%8, %10) sgd(lr=0.1) -> fc.weight : 10x784") !=
          std::string::npos);
    CHECK(backward.out.find("  grad fc.weight = %8\n") != std::string::npos);
    Run program = run_netc("--emit=program examples/fashion_linear.net");
    CHECK(program.status == 0);
    CHECK(program.out.find("  apply_update: ") != std::string::npos);
    CHECK(program.out.find("composed of") == std::string::npos);
    Run split = run_netc("--emit=program --schedule mullapudi2016 examples/fashion_linear.net");
    CHECK(split.out.find("  train_step: one training step: gradient, then apply_update, in "
                         "place\n    composed of: gradient, apply_update\n") != std::string::npos);
    Run bad = run_netc("--schedule fastest examples/fashion_linear.net -o x.o");
    CHECK(bad.status == 1);
    CHECK(bad.err.find("--schedule: fastest not in {netc,mullapudi2016,adams2019,li2018,none}") !=
          std::string::npos);

    // An object under the baseline strategy: train_step is its two halves, called by the wrapper.
    fs::path object = scratch() / "none" / "fashion_linear.o";
    fs::create_directories(object.parent_path());
    Run none = run_netc("examples/fashion_linear.net --schedule none -o '" + object.string() + "'");
    CHECK(none.status == 0);
    INFO(none.err);
    std::string header = slurp(fs::path(object).replace_extension(".h"));
    CHECK(header.find("int32_t fashion_linear_apply_update(float *params, float *opt_state, "
                      "const float *grad, int64_t step);") != std::string::npos);
    CHECK(header.find("fashion_linear_gradient_raw(") != std::string::npos);
    CHECK(header.find("fashion_linear_train_step_raw(") == std::string::npos);
}

TEST_CASE("--emit=ast prints what parsed even when the model has errors") {
    fs::path bad = write_file("partial.net", "model m {\n  relu(\n}\n");
    Run r = run_netc("--emit=ast '" + bad.string() + "'");
    CHECK(r.status == 1);
    CHECK(r.out == "1:1 model m\n  2:3 relu <error>\n");
    CHECK(contains(r.err, bad.string() + ":3:1: error: expected a value"));
}

TEST_CASE("netc summary prints a table with the total") {
    Run r = run_netc("summary examples/fashion_cnn.net");
    CHECK(r.status == 0);
    CHECK(r.out.rfind("model fashion_cnn: input 1x28x28, 10 classes\n", 0) == 0);
    CHECK(contains(r.out, "total parameters: 421,834\n"));
    CHECK(contains(r.out, "non-trainable buffers: 192 (batchnorm running statistics)\n"));
    Run bad = run_netc("summary does/not/exist.net");
    CHECK(bad.status == 1);
}

TEST_CASE("netc bench --json: a row per strategy with every figure") {
    Run r = run_netc("bench examples/fashion_linear.net --strategies netc,none --steps 3 --json");
    INFO(r.err);
    REQUIRE(r.status == 0);
    nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["model"] == "fashion_linear");
    CHECK(j["batch"] == 128);  // the train block's
    CHECK(j["steps"] == 3);
    CHECK(j["predict_batch"] == 256);
    CHECK(j["target"].get<std::string>().rfind("x86-64-", 0) == 0);
    CHECK(j["peak_gflops"].get<double>() > 0);
    // Per image: dense 2 * 7840 + 10, the loss gradient 5 * 10, dW 2 * 7840, db 10, the loss 4 * 10
    // and its batch mean 1; then sgd on 7,850 parameters, 2 each, l2's term in the gradient of
    // the 7,840 weights, 2 each, and in the loss, 3 each (compiler/TrainPasses.cpp).
    CHECK(j["train_step_flops"] ==
          128.0 * (15690 + 50 + 15680 + 10 + 40 + 1) + 2 * 7850 + 2 * 7840 + 3 * 7840);
    CHECK(j["predict_flops_per_image"] == 15690);
    REQUIRE(j["strategies"].size() == 2);
    CHECK(j["strategies"][0]["strategy"] == "netc");
    CHECK(j["strategies"][1]["strategy"] == "none");
    for (const nlohmann::json &row : j["strategies"]) {
        CAPTURE(row.dump());
        CHECK(row["status"] == "ok");
        CHECK(row["compile_s"].get<double>() > 0);
        double ms = row["train_step_ms"].get<double>();
        CHECK(ms > 0);
        CHECK(row["train_img_s"].get<double>() == doctest::Approx(128 / (ms * 1e-3)));
        double gflops = row["gflops"].get<double>();
        CHECK(gflops == doctest::Approx(j["train_step_flops"].get<double>() / (ms * 1e-3) * 1e-9));
        CHECK(row["peak_fraction"].get<double>() ==
              doctest::Approx(gflops / j["peak_gflops"].get<double>()));
        CHECK(row["steps_timed"] == 3);
        CHECK(row["predict_img_s"].get<double>() > 0);
        CHECK(row["latency_ms"].get<double>() > 0);
    }
    CHECK(contains(r.err, "netc bench: [1/2] netc: compiling and timing"));
    CHECK(contains(r.err, "netc bench: [2/2] none: compiling and timing"));
}

TEST_CASE("netc bench prints a table, and a row for a strategy past --timeout") {
    Run table = run_netc("bench examples/fashion_linear.net --strategies netc --steps 1");
    CHECK(table.status == 0);
    CHECK(table.out.rfind("netc bench examples/fashion_linear.net: model fashion_linear, train "
                          "batch 128, median of 1 steps, synthetic data\ntarget x86-64-",
                          0) == 0);
    CHECK(contains(table.out, "\n\nstrategy       compile s   step ms      img/s   GFLOP/s  of peak"
                              "  predict img/s  batch-1 ms\nnetc  "));
    CHECK(contains(table.out, "\ntrain step 4.08 MFLOP; predict 15.7 kFLOP per image\n"));

    Run slow = run_netc("bench examples/fashion_cnn.net --strategies none --timeout 0.2 --json");
    CHECK(slow.status == 1);  // no strategy ran
    nlohmann::json j = nlohmann::json::parse(slow.out);
    CHECK(j["strategies"][0]["status"] == "timed out");
    CHECK(j["strategies"][0]["error"] == "timed out after 0.2 s");

    Run bad = run_netc("bench examples/fashion_linear.net --strategies netc,fastest");
    CHECK(bad.status == 1);
    CHECK(bad.err == "netc bench: unknown strategy 'fastest'; expected " +
                         std::string("netc, mullapudi2016, adams2019, li2018, none") + "\n");
}
