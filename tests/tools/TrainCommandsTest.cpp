// `netc train`, `eval` and `predict` end to end on real Fashion-MNIST (a subset, so the whole file
// runs in well under a minute here), and their errors on bad input.

#include "runtime/Memory.h"
#include "runtime/TestFiles.h"
#include "tools/RunNetc.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using netc::test::metrics_lines;
using netc::test::read_text;
using netc::test::TempDir;

namespace {

struct Run {
    int status = -1;
    std::string output;  // stdout and stderr together
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

/// Starts netc with `args` in the background, its stdout and stderr to `log`.
pid_t spawn_netc(const std::vector<std::string> &args, const std::string &log) {
    int error = 0;
    pid_t pid = netc::test::spawn_netc(args, log, error);
    REQUIRE_MESSAGE(pid > 0, std::strerror(error));
    return pid;
}

/// Whether `bytes` are a whole safetensors file: the header's length and the end of its last
/// tensor's data account for every byte (a file cut short, or still being filled, fails).
bool whole_safetensors(const std::string &bytes) {
    if (bytes.size() < 8) return false;
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--) header = header << 8 | (uint8_t)bytes[(size_t)i];
    if (header > bytes.size() - 8) return false;
    std::string json = bytes.substr(8, header);
    std::regex offsets("\"data_offsets\":\\s*\\[\\s*[0-9]+\\s*,\\s*([0-9]+)\\s*\\]");
    uint64_t end = 0;
    for (auto it = std::sregex_iterator(json.begin(), json.end(), offsets);
         it != std::sregex_iterator(); ++it) {
        end = std::max<uint64_t>(end, std::stoull((*it)[1]));
    }
    return end > 0 && 8 + header + end == bytes.size();
}

std::vector<std::string> names_in(const std::string &dir) {
    std::vector<std::string> names;
    for (const auto &entry : std::filesystem::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST_CASE("train the MLP on 4000 samples for 2 epochs: the loss falls, eval and predict work") {
    TempDir dir;
    Run train = run_netc("train " + example("fashion_mlp") + " --limit 4000 --epochs 2 --out " +
                         dir / "run");
    INFO(train.output);
    REQUIRE(train.status == 0);
    std::vector<double> l = losses(dir / "run/metrics.jsonl");
    REQUIRE(l.size() >= 2);
    CHECK(l.back() < 0.75 * l.front());

    Run eval = run_netc("eval " + example("fashion_mlp") + " --weights " +
                        dir / "run/best.safetensors" + " --json");
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

    // Resuming a run that has ended trains nothing and says so, its files untouched.
    const std::string last = read_text(dir / "run/last.safetensors");
    Run again =
        run_netc("train " + example("fashion_mlp") + " --limit 4000 --resume --out " + dir / "run");
    CHECK(again.status == 0);
    CHECK(again.output.find("nothing to train: the run in " + dir / "run" +
                            " had already ended at step 58") != std::string::npos);
    CHECK(read_text(dir / "run/last.safetensors") == last);
}

TEST_CASE("a kNN model: train stores the training set, eval and predict classify against it") {
    TempDir dir;
    Run train = run_netc("train " + example("fashion_knn") + " --limit 3000 --out " + dir / "run");
    INFO(train.output);
    REQUIRE(train.status == 0);
    CHECK(train.output.find("stored 2700 samples, validation accuracy 0.") != std::string::npos);
    CHECK(std::filesystem::exists(dir / "run/best.safetensors"));
    CHECK_FALSE(std::filesystem::exists(dir / "run/last.safetensors"));

    Run eval = run_netc("eval " + example("fashion_knn") + " --weights " +
                        dir / "run/best.safetensors" + " --json");
    INFO(eval.output);
    REQUIRE(eval.status == 0);
    std::smatch m;
    REQUIRE(std::regex_search(eval.output, m, std::regex("\"accuracy\": ([0-9.]+)")));
    CHECK(std::stod(m[1]) >= 0.75);  // 0.79 measured: 2,700 stored samples, k = 5, l1
    CHECK(std::regex_search(eval.output, std::regex("\"samples\": 10000, \"seconds\": [0-9.]+")));
    Run first = run_netc("eval " + example("fashion_knn") + " --weights " +
                         dir / "run/best.safetensors" + " --limit 300 --json");
    CHECK(first.status == 0);
    CHECK(std::regex_search(first.output, std::regex("\"samples\": 300, \"seconds\": [0-9.]+")));

    Run predict = run_netc("predict " + example("fashion_knn") + " --weights " +
                           dir / "run/best.safetensors" +
                           " /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --top 1");
    REQUIRE(predict.status == 0);
    CHECK(predict.output.find("t10k-images-idx3-ubyte.gz[1]: Pullover") != std::string::npos);

    // Nothing to resume, no epochs; and a trained model's checkpoint is no stored training set.
    Run resume = run_netc("train " + example("fashion_knn") + " --resume --out " + dir / "run");
    CHECK(resume.status == 1);
    CHECK(resume.output.find("--resume does not apply to a kNN model") != std::string::npos);
    TempDir mlp;
    REQUIRE(
        run_netc("train " + example("fashion_mlp") + " --limit 500 --epochs 1 --out " + mlp / "run")
            .status == 0);
    Run wrong =
        run_netc("eval " + example("fashion_knn") + " --weights " + mlp / "run/best.safetensors");
    CHECK(wrong.status == 1);
    CHECK(wrong.output.find("not the checkpoint of a kNN model") != std::string::npos);
    // The stored set cannot be compiled into an object.
    Run embed = run_netc(example("fashion_knn") + " --weights " + dir / "run/best.safetensors" +
                         " -o " + dir / "knn.o");
    CHECK(embed.status == 1);
    CHECK(embed.output.find("leave out --weights") != std::string::npos);
}

namespace {

/// `netc train <common>DIR/whole` in one go, and `<common>DIR/parts` stopped after `steps` steps
/// then resumed: both runs' last and best checkpoints must be equal, byte for byte.
void check_resume_equals_whole(const TempDir &dir, const std::string &common, int steps) {
    Run whole = run_netc("train " + common + dir / "whole");
    INFO(whole.output);
    REQUIRE(whole.status == 0);
    Run half = run_netc("train " + common + dir / "parts --steps " + std::to_string(steps));
    INFO(half.output);
    REQUIRE(half.status == 0);
    CHECK(half.output.find("stopped at step " + std::to_string(steps)) != std::string::npos);
    Run rest = run_netc("train " + common + dir / "parts --resume");
    INFO(rest.output);
    REQUIRE(rest.status == 0);
    CHECK(netc::test::read_bytes(dir / "whole/last.safetensors") ==
          netc::test::read_bytes(dir / "parts/last.safetensors"));
    CHECK(netc::test::read_bytes(dir / "whole/best.safetensors") ==
          netc::test::read_bytes(dir / "parts/best.safetensors"));
}

}  // namespace

TEST_CASE("train N steps at once equals N/2, --resume, N/2 (bit for bit)") {
    TempDir dir;
    std::string common = example("fashion_linear") + " --limit 2000 --epochs 2 --out ";
    check_resume_equals_whole(dir, common, 15);

    // A fresh run would overwrite the checkpoint: refused, the file untouched.
    std::vector<uint8_t> before = netc::test::read_bytes(dir / "whole/last.safetensors");
    Run again = run_netc("train " + common + dir / "whole");
    CHECK(again.status == 1);
    CHECK(again.output.find("--resume") != std::string::npos);
    CHECK(netc::test::read_bytes(dir / "whole/last.safetensors") == before);

    // A corrupted checkpoint: the file is named, the exit status says so.
    std::vector<uint8_t> bytes = before;
    bytes[9] = '!';  // inside the JSON header
    netc::test::write_bytes(dir / "bad.safetensors", bytes);
    Run bad =
        run_netc("eval " + example("fashion_linear") + " --weights " + dir / "bad.safetensors");
    CHECK(bad.status == 1);
    CHECK(bad.output.find("bad.safetensors") != std::string::npos);
}

TEST_CASE("--resume without --limit or --data takes the run's own") {
    // They were refused before ("the run was started on 600 training samples, these data have
    // 60000"), although docs/cli.md said a resume takes the run's --limit.
    TempDir dir;
    std::string model = example("fashion_linear");
    REQUIRE(run_netc("train " + model + " --limit 600 --epochs 2 --out " + dir / "whole").status ==
            0);
    REQUIRE(run_netc("train " + model + " --limit 600 --epochs 2 --steps 5 --out " + dir / "parts")
                .status == 0);
    Run rest = run_netc("train " + model + " --resume --out " + dir / "parts");
    INFO(rest.output);
    REQUIRE(rest.status == 0);
    CHECK(rest.output.find("on 600 samples from /usr/share/datasets/fashion-mnist") !=
          std::string::npos);
    CHECK(netc::test::read_bytes(dir / "whole/last.safetensors") ==
          netc::test::read_bytes(dir / "parts/last.safetensors"));
    // Given, they must still be the run's.
    Run other = run_netc("train " + model + " --resume --limit 700 --out " + dir / "parts");
    CHECK(other.status == 1);
    CHECK(other.output.find("600 training samples") != std::string::npos);
}

TEST_CASE("bad input: an unwritable output directory, a label out of range") {
    TempDir dir;
    netc::test::write_bytes(dir / "file", {1, 2, 3});
    Run unwritable = run_netc("train " + example("fashion_linear") +
                              " --limit 100 --epochs 1 --out " + dir / "file/run");
    CHECK(unwritable.status == 1);
    CHECK(unwritable.output.find("file/run") != std::string::npos);
    CHECK(netc::test::read_bytes(dir / "file") == std::vector<uint8_t>{1, 2, 3});

    // Four 28x28 images whose last label is 12: the model has 10 classes.
    const uint8_t header[] = {0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 28, 0, 0, 0, 28};
    std::vector<uint8_t> images(16 + 4 * 28 * 28, 100);
    std::copy(std::begin(header), std::end(header), images.begin());
    std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 12};
    netc::test::write_bytes(dir / "data/train-images-idx3-ubyte", images);
    netc::test::write_bytes(dir / "data/train-labels-idx1-ubyte", labels);
    Run label = run_netc("train " + example("fashion_linear") + " --epochs 1 --data " +
                         dir / "data" + " --out " + dir / "run");
    CHECK(label.status == 1);
    CHECK(label.output.find("label 12") != std::string::npos);
}

TEST_CASE("a run that cannot fit in memory is refused before any data is read") {
    // 30 values of 2 GiB a batch forward (each within the 2^31-element limit, 60 GiB together,
    // so `netc check` accepts it); nothing before the dense layer has parameters, so the backward
    // graph is the dense layer's gradients alone.
    std::string model = "model big {\n  input 16x256x256\n  classes 10\n";
    for (int i = 0; i < 28; i++) model += "  relu\n";
    model += "  flatten\n  dense(units=10)\n  loss softmax_cross_entropy\n}\n"
             "train {\n  batch 512\n}\n";
    TempDir dir;
    const std::string path = dir / "big.net";
    netc::test::write_text(path, model);
    REQUIRE(run_netc("check " + path).status == 0);
    if (netc::runtime::available_memory() > (int64_t(60) << 30)) {
        MESSAGE("skipped: this machine has more than the 60 GiB the run needs");
        return;
    }
    // The data directory does not exist: the memory check comes first.
    Run r = run_netc("train " + path + " --data " + dir / "no-data" + " --out " + dir / "run");
    CHECK(r.status == 1);
    CHECK_MESSAGE(r.output.find("netc: error: " + path +
                                ": training at batch 512 needs 60.1 GiB of memory (80.0 MiB of "
                                "parameters, gradients and optimizer state, 60.0 GiB of forward "
                                "and backward values), but ") == 0,
                  r.output);
    CHECK_MESSAGE(r.output.find(" is available; lower the train block's batch\n") !=
                      std::string::npos,
                  r.output);
    CHECK(!std::filesystem::exists(dir / "run"));
}

TEST_CASE("a run killed with SIGKILL and resumed ends as an uninterrupted one, bit for bit") {
    TempDir dir;
    // The MLP's cosine schedule follows the run's length; 12000 samples take about 0.3 s an epoch
    // here, time enough to kill the run in its second.
    const std::string model = example("fashion_mlp");
    const std::vector<std::string> args = {"train",    model, "--limit", "12000",
                                           "--epochs", "3",   "--out"};
    using Clock = std::chrono::steady_clock;
    // Watches the run in directory `run` until its process ends or, once `kill_when` says so,
    // kills it; reads last.safetensors whenever it is there: it must be whole every time
    // (written atomically, never in place). Returns the wait status and how many times the
    // file was read.
    auto watch = [](pid_t pid, const std::string &run, const std::function<bool()> &kill_when) {
        const auto deadline = Clock::now() + std::chrono::seconds(60);
        int status = 0, seen = 0;
        while (Clock::now() < deadline && !kill_when()) {
            if (::waitpid(pid, &status, WNOHANG) == pid) return std::make_pair(status, seen);
            std::string bytes = read_text(run + "/last.safetensors");
            if (!bytes.empty()) {
                seen++;
                REQUIRE_MESSAGE(whole_safetensors(bytes), "last.safetensors was half-written");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return std::make_pair(status, seen);
    };

    std::vector<std::string> whole_args = args;
    whole_args.push_back(dir / "whole");
    auto [whole_status, whole_seen] =
        watch(spawn_netc(whole_args, dir / "whole.log"), dir / "whole", [] { return false; });
    INFO(read_text(dir / "whole.log"));
    REQUIRE(WIFEXITED(whole_status));
    REQUIRE(WEXITSTATUS(whole_status) == 0);
    CHECK(whole_seen > 0);

    // Killed in its second epoch, once it has logged a step past its checkpoint (the end of
    // epoch 1): lines the resumed run writes again.
    std::vector<std::string> killed_args = args;
    killed_args.push_back(dir / "run");
    auto in_epoch_2 = [&] {
        return read_text(dir / "run/metrics.jsonl").find("\"epoch\": 2,") != std::string::npos;
    };
    int killed_status =
        watch(spawn_netc(killed_args, dir / "run.log"), dir / "run", in_epoch_2).first;
    INFO(read_text(dir / "run.log"));
    REQUIRE_MESSAGE(WIFSIGNALED(killed_status), "the run ended before the kill: make it longer");
    REQUIRE(WTERMSIG(killed_status) == SIGKILL);
    const std::string killed_last = read_text(dir / "run/last.safetensors");
    CHECK(whole_safetensors(killed_last));
    std::smatch step;
    REQUIRE(std::regex_search(killed_last, step, std::regex("\"step\":\\s*\"([0-9]+)\"")));
    std::vector<std::string> lines = metrics_lines(dir / "run/metrics.jsonl");
    REQUIRE_FALSE(lines.empty());
    REQUIRE_MESSAGE(std::stoll(lines.back().substr(std::strlen("{\"step\": "))) >
                        std::stoll(step[1]),
                    "the kill landed before a line past the checkpoint was written");
    // What a kill in the middle of a checkpoint's write leaves: its temporary file, half full.
    std::string half = killed_last.substr(0, killed_last.size() / 2);
    std::ofstream(dir / "run/last.safetensors.tmp.K1ll3d", std::ios::binary) << half;

    // Without --epochs: the run's 3, not the train block's 15.
    Run resumed = run_netc("train " + model + " --limit 12000 --out " + dir / "run --resume");
    INFO(resumed.output);
    REQUIRE(resumed.status == 0);
    CHECK(resumed.output.find("removed 1 temporary file") != std::string::npos);
    CHECK(resumed.output.find("epoch 3/3") != std::string::npos);
    CHECK(read_text(dir / "whole/last.safetensors") == read_text(dir / "run/last.safetensors"));
    CHECK(read_text(dir / "whole/best.safetensors") == read_text(dir / "run/best.safetensors"));
    // metrics.jsonl reads as the uninterrupted run's: every step once.
    CHECK(metrics_lines(dir / "whole/metrics.jsonl") == metrics_lines(dir / "run/metrics.jsonl"));
    CHECK(names_in(dir / "run") ==
          std::vector<std::string>{"best.safetensors", "last.safetensors", "metrics.jsonl"});

    // Resuming it for more epochs, or on other data, would not continue the same run: refused,
    // with what to do, and nothing on disk changed.
    const std::string last = read_text(dir / "run/last.safetensors");
    const std::string metrics = read_text(dir / "run/metrics.jsonl");
    Run longer =
        run_netc("train " + model + " --limit 12000 --epochs 5 --out " + dir / "run --resume");
    CHECK(longer.status == 1);
    CHECK(longer.output.find("netc: error: " + dir / "run/last.safetensors" +
                             ": the run was started for 3 epochs") != std::string::npos);
    CHECK(longer.output.find("but 5 were asked for (--epochs): resume with --epochs 3") !=
          std::string::npos);
    Run other_limit = run_netc("train " + model + " --limit 2000 --out " + dir / "run --resume");
    CHECK(other_limit.status == 1);
    CHECK(other_limit.output.find("started on 12000 training samples, these data have 2000") !=
          std::string::npos);
    CHECK(read_text(dir / "run/last.safetensors") == last);
    CHECK(read_text(dir / "run/metrics.jsonl") == metrics);
    CHECK(names_in(dir / "run") ==
          std::vector<std::string>{"best.safetensors", "last.safetensors", "metrics.jsonl"});
}

TEST_CASE("DropConnect, fractional max pooling and stochastic depth: a resumed run ends as an "
          "uninterrupted one, bit for bit") {
    // Their masks and regions are drawn from (seed, step, layer, ...): a resumed run that drew
    // them from any other step would train on other masks and end elsewhere.
    TempDir dir;
    const std::string model = dir / "regularized.net";
    std::ofstream(model) << R"(model regularized {
  input 1x28x28
  classes 10
  conv2d(filters=4, kernel=3, pad=1, dropconnect=0.3)
  relu
  fractional_maxpool(ratio=0.7)
  stem: conv2d(filters=4, kernel=3, pad=1)
  relu
  conv2d(filters=4, kernel=3, pad=1)
  stochastic_depth(p=0.3)
  b1: add(stem)
  conv2d(filters=4, kernel=3, pad=1)
  stochastic_depth(p=0.4, mode=batch)
  add(b1)
  flatten
  dense(units=10, dropconnect=0.2)
}
train {
  optimizer adam(lr=1e-3)
  batch 32
  epochs 2
  seed 3
  validation 0.1
}
)";
    check_resume_equals_whole(dir, model + " --limit 1000 --out ", 20);
    // The loss still falls with every regularizer on.
    std::vector<double> l = losses(dir / "whole/metrics.jsonl");
    REQUIRE(l.size() >= 2);
    CHECK(l.back() < l.front());
}
