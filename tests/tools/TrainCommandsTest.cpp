// `netc train`, `eval` and `predict` end to end on real Fashion-MNIST (a subset, so the whole file
// runs in well under a minute here), and their errors on bad input.

#include "runtime/TestFiles.h"

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <sys/wait.h>

using netc::test::TempDir;

namespace {

struct Run {
    int status = -1;
    std::string output; // stdout and stderr together
};

Run run_netc(const std::string &args) {
    Run r;
    std::string command = std::string(NETC_BINARY) + " " + args + " 2>&1";
    FILE *pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe);
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
    int status = ::pclose(pipe);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string example(const std::string &name) {
    return std::string(NETC_SOURCE_DIR) + "/examples/" + name + ".net";
}

/// The "loss" of every metrics line that has no "val_accuracy" (the per-interval ones).
std::vector<double> losses(const std::string &metrics_path) {
    std::ifstream in(metrics_path);
    std::vector<double> out;
    std::string line;
    std::regex loss("\"loss\": ([0-9.e+-]+)");
    while (std::getline(in, line)) {
        std::smatch m;
        if (line.find("val_accuracy") == std::string::npos && std::regex_search(line, m, loss)) {
            out.push_back(std::stod(m[1]));
        }
    }
    return out;
}

} // namespace

TEST_CASE("train the MLP on 4000 samples for 2 epochs: the loss falls, eval and predict work") {
    TempDir dir;
    Run train = run_netc("train " + example("fashion_mlp") + " --limit 4000 --epochs 2 --out " +
                     dir / "run");
    INFO(train.output);
    REQUIRE(train.status == 0);
    std::vector<double> l = losses(dir / "run/metrics.jsonl");
    REQUIRE(l.size() >= 2);
    CHECK(l.back() < 0.75 * l.front());

    Run eval = run_netc("eval " + example("fashion_mlp") + " --weights " + dir / "run/best.safetensors" +
                    " --json");
    INFO(eval.output);
    REQUIRE(eval.status == 0);
    std::smatch m;
    REQUIRE(std::regex_search(eval.output, m, std::regex("\"accuracy\": ([0-9.]+)")));
    // 0.73 measured here; the warmup of the cosine schedule (200 steps) outlasts this short run.
    CHECK(std::stod(m[1]) >= 0.65);
    CHECK(eval.output.find("\"confusion\"") != std::string::npos);

    Run predict = run_netc("predict " + example("fashion_mlp") + " --weights " +
                       dir / "run/best.safetensors" +
                       " /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --top 2");
    REQUIRE(predict.status == 0);
    CHECK(predict.output.find("t10k-images-idx3-ubyte.gz[2]: Trouser") != std::string::npos);

    // A checkpoint of another model: the tensor that differs is named.
    Run wrong = run_netc("eval " + example("fashion_linear") + " --weights " +
                     dir / "run/best.safetensors");
    CHECK(wrong.status == 1);
    CHECK(wrong.output.find("'fc.weight'") != std::string::npos);
}

TEST_CASE("train N steps at once equals N/2, --resume, N/2 (bit for bit)") {
    TempDir dir;
    std::string common = example("fashion_linear") + " --limit 2000 --epochs 2 --out ";
    REQUIRE(run_netc("train " + common + dir / "whole").status == 0);
    Run half = run_netc("train " + common + dir / "parts --steps 15");
    INFO(half.output);
    REQUIRE(half.status == 0);
    CHECK(half.output.find("stopped at step 15") != std::string::npos);
    Run rest = run_netc("train " + common + dir / "parts --resume");
    INFO(rest.output);
    REQUIRE(rest.status == 0);
    CHECK(netc::test::read_bytes(dir / "whole/last.safetensors") ==
          netc::test::read_bytes(dir / "parts/last.safetensors"));
    CHECK(netc::test::read_bytes(dir / "whole/best.safetensors") ==
          netc::test::read_bytes(dir / "parts/best.safetensors"));

    // A fresh run would overwrite the checkpoint: refused, the file untouched.
    std::vector<uint8_t> before = netc::test::read_bytes(dir / "whole/last.safetensors");
    Run again = run_netc("train " + common + dir / "whole");
    CHECK(again.status == 1);
    CHECK(again.output.find("--resume") != std::string::npos);
    CHECK(netc::test::read_bytes(dir / "whole/last.safetensors") == before);

    // A corrupted checkpoint: the file is named, the exit status says so.
    std::vector<uint8_t> bytes = before;
    bytes[9] = '!'; // inside the JSON header
    netc::test::write_bytes(dir / "bad.safetensors", bytes);
    Run bad = run_netc("eval " + example("fashion_linear") + " --weights " + dir / "bad.safetensors");
    CHECK(bad.status == 1);
    CHECK(bad.output.find("bad.safetensors") != std::string::npos);
}

TEST_CASE("bad input: an unwritable output directory, a label out of range") {
    TempDir dir;
    netc::test::write_bytes(dir / "file", {1, 2, 3});
    Run unwritable = run_netc("train " + example("fashion_linear") + " --limit 100 --epochs 1 --out " +
                          dir / "file/run");
    CHECK(unwritable.status == 1);
    CHECK(unwritable.output.find("file/run") != std::string::npos);
    CHECK(netc::test::read_bytes(dir / "file") == std::vector<uint8_t>{1, 2, 3});

    // Four 28x28 images whose last label is 12: the model has 10 classes.
    std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 28, 0, 0, 0, 28};
    images.resize(16 + 4 * 28 * 28, 100);
    std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 12};
    netc::test::write_bytes(dir / "data/train-images-idx3-ubyte", images);
    netc::test::write_bytes(dir / "data/train-labels-idx1-ubyte", labels);
    Run label = run_netc("train " + example("fashion_linear") + " --epochs 1 --data " + dir / "data" +
                     " --out " + dir / "run");
    CHECK(label.status == 1);
    CHECK(label.output.find("label 12") != std::string::npos);
}
