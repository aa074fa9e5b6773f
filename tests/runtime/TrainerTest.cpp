// The training loop and checkpoints over a small model written in plain C++ (a linear softmax
// classifier with momentum), so these tests need neither the compiler nor Halide.

#include "runtime/Trainer.h"
#include "runtime/Checkpoint.h"
#include "runtime/Safetensors.h"
#include "runtime/TestFiles.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace netc::runtime;
using netc::test::metrics_lines;
using netc::test::read_text;
using netc::test::TempDir;
using netc::test::write_text;

namespace {

/// scores = W x + b; softmax cross-entropy; momentum SGD (v = 0.9 v + g; w -= lr v).
class TinyLinear : public TrainableModel {
public:
    TinyLinear(std::string name, int classes, int side) {
        info_.name = std::move(name);
        info_.data = {1, side, side, classes};
        features_ = side * side;
        info_.tensors = {{"fc.weight", {classes, features_}, 0, true},
                         {"fc.bias", {classes}, (int64_t)classes * features_, true}};
        info_.optimizer_slots = {"momentum_buffer"};
        info_.optimizer = "momentum";
        count_ = (int64_t)classes * features_ + classes;
    }
    const ModelInfo &info() const override { return info_; }
    int64_t param_count() const override { return count_; }
    int64_t opt_state_count() const override { return count_; }
    void set_total_steps(int64_t) override {}
    void init(uint64_t seed, float *params) override {
        for (int64_t i = 0; i < count_; i++)
            params[i] = 0.01f * (float)((i * 7 + seed) % 11) - 0.05f;
    }
    Status predict(const float *params, const float *images, int64_t batch, float *probs) override {
        int k = info_.data.classes;
        for (int64_t n = 0; n < batch; n++) scores(params, images + n * features_, probs + n * k);
        return {};
    }
    Status gradient(const float *params, const float *images, const int32_t *labels, int64_t batch,
                    int64_t, int64_t step, float *grad, StepLosses &losses) override {
        int k = info_.data.classes;
        std::vector<float> p((size_t)k);
        std::fill(grad, grad + count_, 0.0f);
        double loss = 0;
        for (int64_t n = 0; n < batch; n++) {
            if (labels[n] < 0 || labels[n] >= k) return Status::error("label out of range");
            const float *x = images + n * features_;
            scores(params, x, p.data());
            loss -= std::log(std::max(p[(size_t)labels[n]], 1e-30f));
            for (int c = 0; c < k; c++) {
                float d = (p[(size_t)c] - (c == labels[n] ? 1.0f : 0.0f)) / (float)batch;
                for (int f = 0; f < features_; f++) grad[c * features_ + f] += d * x[f];
                grad[k * features_ + c] += d;
            }
        }
        losses = {(float)(loss / (double)batch) * (poison_step == step ? NAN : 1.0f), 0,
                  learning_rate(step)};
        return {};
    }
    Status apply_update(float *params, float *opt_state, const float *grad, int64_t step) override {
        for (int64_t i = 0; i < count_; i++) {
            opt_state[i] = 0.9f * opt_state[i] + grad[i];
            params[i] -= learning_rate(step) * opt_state[i];
        }
        if (step == overflow_step) params[1] = INFINITY;
        return {};
    }
    Status train_step(float *params, float *opt_state, const float *images, const int32_t *labels,
                      int64_t batch, int64_t step, StepLosses &losses) override {
        std::vector<float> grad((size_t)count_);
        Status s = gradient(params, images, labels, batch, 0, step, grad.data(), losses);
        if (!s) return s;
        return apply_update(params, opt_state, grad.data(), step);
    }
    int64_t poison_step = -1;    // a step whose loss is NaN
    int64_t overflow_step = -1;  // a step whose update leaves a weight infinite (its loss finite)

private:
    float learning_rate(int64_t step) const { return poison_step == step ? NAN : 0.1f; }
    void scores(const float *params, const float *x, float *p) const {
        int k = info_.data.classes;
        float top = -1e30f;
        for (int c = 0; c < k; c++) {
            float s = params[k * features_ + c];
            for (int f = 0; f < features_; f++) s += params[c * features_ + f] * x[f];
            p[c] = s;
            top = std::max(top, s);
        }
        float sum = 0;
        for (int c = 0; c < k; c++) sum += p[c] = std::exp(p[c] - top);
        for (int c = 0; c < k; c++) p[c] /= sum;
    }
    ModelInfo info_;
    int features_ = 0;
    int64_t count_ = 0;
};

/// Three classes told apart by which third of a 4x4 image is bright.
Dataset toy_data(int64_t count) {
    Dataset d;
    d.count = count;
    d.channels = 1, d.height = 4, d.width = 4;
    d.class_names = {"top", "middle", "bottom"};
    d.images.assign((size_t)count * 16, 0.0f);
    for (int64_t i = 0; i < count; i++) {
        int label = (int)(i * 5 % 3);
        d.labels.push_back(label);
        for (int j = 0; j < 16; j++) {
            float noise = (float)((i * 31 + j * 17) % 13) / 26.0f;
            d.image(i)[j] = (j / 6 == label ? 0.6f : 0.1f) + noise * 0.3f;
        }
    }
    d.sources.push_back({"toy", "toy", 0, count, 0});
    return d;
}

TrainConfig config_in(const std::string &dir) {
    TrainConfig c;
    c.batch = 16;
    c.epochs = 3;
    c.seed = 5;
    c.validation = 0.2;
    c.augment = {{"hflip", {}}};
    c.out_dir = dir;
    return c;
}

std::vector<float> params_of(const std::string &path, TrainableModel &model) {
    Result<Checkpoint> ckpt = load_checkpoint(path, model, true);
    REQUIRE_MESSAGE(ckpt.ok(), ckpt.message());
    std::vector<float> all = ckpt->params;
    all.insert(all.end(), ckpt->opt_state.begin(), ckpt->opt_state.end());
    return all;
}

}  // namespace

TEST_CASE("training learns, keeps the best checkpoint and writes metrics") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    Result<TrainReport> report = train(model, data, config_in(dir.path()));
    REQUIRE_MESSAGE(report.ok(), report.message());
    CHECK(report->outcome == TrainOutcome::Finished);
    CHECK(report->progress.step == 3 * 10);  // 160 training samples in batches of 16
    CHECK(report->last_val_accuracy > 0.9);
    CHECK(report->last_loss < report->first_loss);
    std::ifstream metrics(dir / "metrics.jsonl");
    std::string line, text;
    int lines = 0;
    while (std::getline(metrics, line)) lines++, text += line + "\n";
    CHECK(lines >= 6);
    CHECK(text.find("\"val_accuracy\"") != std::string::npos);
    Result<Checkpoint> best = load_checkpoint(dir / "best.safetensors", model, false);
    REQUIRE_MESSAGE(best.ok(), best.message());
    CHECK(best->class_names == data.class_names);
    CHECK(best->normalization.mean.size() == 1);

    // A fresh run into the same directory would overwrite it: refused.
    Result<TrainReport> again = train(model, data, config_in(dir.path()));
    REQUIRE_FALSE(again.ok());
    CHECK(again.message().find("--resume") != std::string::npos);
}

TEST_CASE("a resumed run ends with the parameters of an uninterrupted one") {
    TempDir whole, parts;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    REQUIRE(train(model, data, config_in(whole.path())).ok());

    TrainConfig first = config_in(parts.path());
    first.max_steps = 13;  // mid-epoch
    Result<TrainReport> stopped = train(model, data, first);
    REQUIRE_MESSAGE(stopped.ok(), stopped.message());
    CHECK(stopped->outcome == TrainOutcome::StepLimit);
    CHECK(stopped->progress.step == 13);
    TrainConfig rest = config_in(parts.path());
    rest.resume = true;
    Result<TrainReport> resumed = train(model, data, rest);
    REQUIRE_MESSAGE(resumed.ok(), resumed.message());
    CHECK(resumed->progress.step == 30);
    CHECK(params_of(whole / "last.safetensors", model) ==
          params_of(parts / "last.safetensors", model));
}

TEST_CASE("an interrupt saves a checkpoint and stops") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    InterruptGuard guard;
    request_interrupt();
    Result<TrainReport> report = train(model, data, config_in(dir.path()));
    REQUIRE(report.ok());
    CHECK(report->outcome == TrainOutcome::Interrupted);
    CHECK(load_checkpoint(dir / "last.safetensors", model, true).ok());
}

TEST_CASE("a NaN loss stops training, names the step and keeps the last good checkpoint") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    model.poison_step = 14;
    Result<TrainReport> report = train(model, data, config_in(dir.path()));
    REQUIRE_FALSE(report.ok());
    CHECK(report.message().find("at step 14") != std::string::npos);
    Result<Checkpoint> last = load_checkpoint(dir / "last.safetensors", model, true);
    REQUIRE(last.ok());
    CHECK(last->progress.step == 10);
}

namespace {

/// A stream that hands each complete line to `on_line`: a way to act between the steps of a
/// run at the moment it reports something.
class LineHook : public std::streambuf {
public:
    explicit LineHook(std::function<void(const std::string &)> on_line)
        : on_line_(std::move(on_line)) {}

protected:
    int overflow(int c) override {
        if (c == EOF) return c;
        line_ += (char)c;
        if (c == '\n') {
            on_line_(line_);
            line_.clear();
        }
        return c;
    }

private:
    std::function<void(const std::string &)> on_line_;
    std::string line_;
};

ino_t inode_of(const std::string &path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_ino;
}

}  // namespace

TEST_CASE("--steps at an epoch's end writes that step's checkpoint once") {
    // Twice, the second write could fail on a nearly full disk although the step's checkpoint
    // was complete (issue 12). The atomic writer replaces the file, so a second write shows as
    // a new inode.
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    TrainConfig config = config_in(dir.path());
    config.max_steps = 10;  // the end of the first epoch
    ino_t at_epoch_end = 0;
    LineHook hook([&](const std::string &line) {
        // The epoch's line is printed after its checkpoints are written.
        if (line.rfind("epoch 1/3:", 0) == 0) at_epoch_end = inode_of(dir / "last.safetensors");
    });
    std::ostream progress(&hook);
    config.progress = &progress;
    Result<TrainReport> report = train(model, data, config);
    REQUIRE_MESSAGE(report.ok(), report.message());
    CHECK(report->outcome == TrainOutcome::StepLimit);
    CHECK(report->progress.step == 10);
    REQUIRE(at_epoch_end != 0);
    CHECK(inode_of(dir / "last.safetensors") == at_epoch_end);
    Result<Checkpoint> last = load_checkpoint(dir / "last.safetensors", model, true);
    REQUIRE(last.ok());
    CHECK(last->progress.step == 10);
    CHECK(last->progress.epoch == 1);
}

TEST_CASE("an update that leaves a weight infinite stops the run before any checkpoint of it") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    model.overflow_step = 19;  // the last step of the second epoch; its loss is finite
    Result<TrainReport> report = train(model, data, config_in(dir.path()));
    REQUIRE_FALSE(report.ok());
    CHECK(report.message().find("the parameters hold a non-finite value (element 1 of the arena) "
                                "after step 20") != std::string::npos);
    CHECK(report.message().find("holds step 10, the last good checkpoint") != std::string::npos);
    for (const char *name : {"last.safetensors", "best.safetensors"}) {
        Result<Checkpoint> ckpt = load_checkpoint(dir / name, model, false);
        REQUIRE_MESSAGE(ckpt.ok(), ckpt.message());
        CHECK(ckpt->progress.step == 10);
    }
}

TEST_CASE("a checkpoint holding inf or NaN is refused, naming the tensor and the index") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    TrainConfig config = config_in(dir.path());
    config.max_steps = 3;
    REQUIRE(train(model, data, config).ok());
    const std::string path = dir / "last.safetensors";
    for (float bad : {INFINITY, -INFINITY, NAN}) {
        // Rewrite the checkpoint with one bad value in fc.weight [3, 16] at [2, 5].
        Result<SafetensorsFile> file = read_safetensors(path);
        REQUIRE(file.ok());
        std::vector<std::vector<float>> values;
        for (const Tensor &t : file->tensors) values.push_back(t.floats());
        std::vector<TensorView> views;
        for (size_t i = 0; i < file->tensors.size(); i++) {
            const Tensor &t = file->tensors[i];
            if (t.name == "fc.weight") values[i][2 * 16 + 5] = bad;
            views.push_back({t.name, t.dtype, t.shape, values[i].data()});
        }
        REQUIRE(write_safetensors(path, views, file->metadata).ok());

        Result<Checkpoint> refused = load_checkpoint(path, model, true);
        REQUIRE_FALSE(refused.ok());
        const std::string what = std::isnan(bad) ? "nan" : bad > 0 ? "inf" : "-inf";
        CHECK(refused.message() == path + ": tensor 'fc.weight' holds " + what +
                                       " at index [2, 5] (element 37 of 48); refused (netc's "
                                       "--allow-nonfinite loads it anyway)");
        Result<Checkpoint> allowed = load_checkpoint(path, model, true, /*allow_nonfinite=*/true);
        REQUIRE_MESSAGE(allowed.ok(), allowed.message());
        CHECK(!std::isfinite(allowed->params[37]));
    }
}

TEST_CASE("checkpoints of another model or corrupted ones are refused with the reason") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    TrainConfig c = config_in(dir.path());
    c.epochs = 1;
    REQUIRE(train(model, data, c).ok());

    TinyLinear other("wide", 4, 4);
    Result<Checkpoint> wrong = load_checkpoint(dir / "last.safetensors", other, false);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.message().find("'fc.weight'") != std::string::npos);

    std::vector<uint8_t> bytes = netc::test::read_bytes(dir / "last.safetensors");
    bytes.resize(bytes.size() / 2);
    netc::test::write_bytes(dir / "half.safetensors", bytes);
    Result<Checkpoint> half = load_checkpoint(dir / "half.safetensors", model, false);
    REQUIRE_FALSE(half.ok());
    CHECK(half.message().find("half.safetensors") != std::string::npos);
}

TEST_CASE("an output directory that cannot be written is an error before any work") {
    TempDir dir;
    netc::test::write_bytes(dir / "file", {1, 2, 3});
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(50);
    Result<TrainReport> report = train(model, data, config_in(dir / "file/sub"));
    REQUIRE_FALSE(report.ok());
    CHECK(report.message().find("file/sub") != std::string::npos);
    CHECK(netc::test::read_bytes(dir / "file") == std::vector<uint8_t>{1, 2, 3});
}

TEST_CASE("a resume drops the metrics lines written past its checkpoint: one run's lines") {
    TempDir whole, parts;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    TrainConfig c = config_in(whole.path());
    c.log_every = 4;
    REQUIRE(train(model, data, c).ok());

    // A run killed at step 27 after its checkpoint of step 20 (the end of epoch 2): steps up to
    // 20, lines up to 27 and a line the kill cut short.
    c.out_dir = parts.path();
    c.max_steps = 20;
    REQUIRE(train(model, data, c).ok());
    std::vector<uint8_t> checkpoint_20 = netc::test::read_bytes(parts / "last.safetensors");
    std::string lines_to_20 = read_text(parts / "metrics.jsonl");
    c.resume = true;
    c.max_steps = 27;
    REQUIRE(train(model, data, c).ok());
    netc::test::write_bytes(parts / "last.safetensors", checkpoint_20);
    write_text(parts / "metrics.jsonl", read_text(parts / "metrics.jsonl") + "{\"step\": 28, \"ep");
    REQUIRE(read_text(parts / "metrics.jsonl").find("{\"step\": 24,") != std::string::npos);

    c.max_steps = 0;
    Result<TrainReport> resumed = train(model, data, c);
    REQUIRE_MESSAGE(resumed.ok(), resumed.message());
    CHECK(params_of(whole / "last.safetensors", model) ==
          params_of(parts / "last.safetensors", model));
    // Every step once, as the uninterrupted run wrote them; the lines up to 20 are the first
    // run's own (img_per_s included).
    CHECK(metrics_lines(parts / "metrics.jsonl") == metrics_lines(whole / "metrics.jsonl"));
    CHECK(read_text(parts / "metrics.jsonl").rfind(lines_to_20, 0) == 0);
}

TEST_CASE("a fresh run in a directory whose run saved no checkpoint starts its metrics anew") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    write_text(dir / "metrics.jsonl",
               "{\"step\": 4, \"epoch\": 1, \"loss\": 9}\n{\"step\": 8, \"e");

    TrainConfig c = config_in(dir.path());
    c.resume = true;
    Result<TrainReport> resume = train(model, data, c);
    REQUIRE_FALSE(resume.ok());
    CHECK(resume.message().find("no checkpoint to resume from") != std::string::npos);
    CHECK(resume.message().find("without --resume") != std::string::npos);

    c.resume = false;
    REQUIRE(train(model, data, c).ok());
    std::vector<std::string> lines = metrics_lines(dir / "metrics.jsonl");
    REQUIRE_FALSE(lines.empty());
    CHECK(lines.front().find("\"loss\": 9}") == std::string::npos);
    CHECK(lines.front().rfind("{\"step\": ", 0) == 0);
}

TEST_CASE("--resume into a directory that does not exist creates nothing") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    TrainConfig c = config_in(dir / "typo");
    c.resume = true;
    Result<TrainReport> report = train(model, data, c);
    REQUIRE_FALSE(report.ok());
    CHECK(report.message().find("typo: no such directory") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir / "typo"));
}

TEST_CASE("a resume with other epochs, data, batch or validation is refused, nothing changed") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    TrainConfig c = config_in(dir.path());
    c.max_steps = 13;
    REQUIRE(train(model, data, c).ok());
    Result<Checkpoint> ckpt = load_checkpoint(dir / "last.safetensors", model, true);
    REQUIRE(ckpt.ok());
    CHECK(ckpt->run.epochs == 3);
    CHECK(ckpt->run.steps_per_epoch == 10);
    CHECK(ckpt->run.total_steps == 30);
    CHECK(ckpt->run.batch == 16);
    CHECK(ckpt->run.samples == 200);
    CHECK(ckpt->run.validation_samples == 40);
    CHECK(ckpt->run.data_fingerprint.size() == 16);
    const std::vector<uint8_t> last = netc::test::read_bytes(dir / "last.safetensors");
    const std::string metrics = read_text(dir / "metrics.jsonl");
    c.resume = true;
    c.max_steps = 0;

    auto refused = [&](const TrainConfig &config, const Dataset &d,
                       std::vector<std::string> phrases) {
        Result<TrainReport> report = train(model, d, config);
        REQUIRE_FALSE(report.ok());
        INFO(report.message());
        for (const std::string &phrase : phrases)
            CHECK(report.message().find(phrase) != std::string::npos);
        CHECK(report.message().find("nothing was changed") != std::string::npos);
        CHECK(netc::test::read_bytes(dir / "last.safetensors") == last);
        CHECK(read_text(dir / "metrics.jsonl") == metrics);
    };
    TrainConfig longer = c;
    longer.epochs = 5;
    refused(longer, data,
            {dir / "last.safetensors", "started for 3 epochs (30 steps", "but 5 were asked",
             "--epochs 3"});
    refused(c, toy_data(180), {"started on 200 training samples", "have 180", "--limit"});
    Dataset relabeled = data;
    relabeled.labels[7] = (relabeled.labels[7] + 1) % 3;
    refused(c, relabeled, {"training data differ", "other images or labels"});
    TrainConfig batch = c;
    batch.batch = 20;
    refused(batch, data, {"batch 16, not 20"});
    TrainConfig validation = c;
    validation.validation = 0.25;
    refused(validation, data, {"held out 40 samples", "now 50"});

    // Without epochs asked for, the run's own are used; the resume is exact.
    TrainConfig asked_none = c;
    asked_none.epochs = 7;
    asked_none.epochs_asked = false;
    Result<TrainReport> resumed = train(model, data, asked_none);
    REQUIRE_MESSAGE(resumed.ok(), resumed.message());
    CHECK(resumed->progress.step == 30);
    TempDir whole;
    REQUIRE(train(model, data, config_in(whole.path())).ok());
    CHECK(params_of(whole / "last.safetensors", model) ==
          params_of(dir / "last.safetensors", model));
}

TEST_CASE("a checkpoint written before runs recorded their epochs and data still resumes") {
    TempDir whole, parts;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    REQUIRE(train(model, data, config_in(whole.path())).ok());
    TrainConfig c = config_in(parts.path());
    c.max_steps = 13;
    REQUIRE(train(model, data, c).ok());
    // Rewritten as the netc before RunShape wrote it: no epochs, ..., data_fingerprint keys.
    Result<Checkpoint> ckpt = load_checkpoint(parts / "last.safetensors", model, true);
    REQUIRE(ckpt.ok());
    REQUIRE(save_checkpoint(parts / "last.safetensors", model, ckpt->params.data(),
                            ckpt->opt_state.data(), ckpt->class_names, ckpt->normalization,
                            ckpt->progress, ckpt->seed)
                .ok());
    Result<SafetensorsFile> file = read_safetensors(parts / "last.safetensors");
    REQUIRE(file.ok());
    CHECK(file->metadata.count("epochs") == 0);
    CHECK(file->metadata.count("data_fingerprint") == 0);

    std::ostringstream progress;
    c.max_steps = 0;
    c.resume = true;
    c.progress = &progress;
    Result<TrainReport> resumed = train(model, data, c);
    REQUIRE_MESSAGE(resumed.ok(), resumed.message());
    CHECK(progress.str().find("does not record the epochs") != std::string::npos);
    CHECK(params_of(whole / "last.safetensors", model) ==
          params_of(parts / "last.safetensors", model));
    // Its next checkpoints record them.
    CHECK(load_checkpoint(parts / "last.safetensors", model, true)->run.epochs == 3);
}

TEST_CASE("temporary files a killed run left are removed; other files are left alone") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    TrainConfig c = config_in(dir.path());
    c.max_steps = 13;
    REQUIRE(train(model, data, c).ok());
    std::vector<uint8_t> half = netc::test::read_bytes(dir / "last.safetensors");
    half.resize(half.size() / 2);
    for (const char *name : {"last.safetensors.tmp.Ab3xYz", "best.safetensors.tmp.000000",
                             "metrics.jsonl.tmp.q1w2e3"}) {
        netc::test::write_bytes(dir / name, half);
    }
    netc::test::write_bytes(dir / "last.safetensors.tmp.mine-too", {1});
    netc::test::write_bytes(dir / "notes.txt", {2});

    std::ostringstream progress;
    c.max_steps = 0;
    c.resume = true;
    c.progress = &progress;
    Result<TrainReport> resumed = train(model, data, c);
    REQUIRE_MESSAGE(resumed.ok(), resumed.message());
    CHECK(progress.str().find("removed 3 temporary files") != std::string::npos);
    std::vector<std::string> names;
    for (const auto &entry : std::filesystem::directory_iterator(dir.path())) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"best.safetensors", "last.safetensors",
                                            "last.safetensors.tmp.mine-too", "metrics.jsonl",
                                            "notes.txt"});
}

TEST_CASE("a second run into a directory in use is refused") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    // Another run holds the lock (flock locks conflict across open files, even in one process).
    int fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
    Result<TrainReport> report = train(model, data, config_in(dir.path()));
    REQUIRE_FALSE(report.ok());
    CHECK(report.message().find("another netc train is running") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir / "metrics.jsonl"));
    ::close(fd);
    CHECK(train(model, data, config_in(dir.path())).ok());
}

TEST_CASE("resuming a run that stopped early trains no further") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    TrainConfig c = config_in(dir.path());
    c.epochs = 5;
    c.patience = 1;
    c.min_delta = 2;  // no epoch after the first improves enough: stops after epoch 2
    Result<TrainReport> report = train(model, data, c);
    REQUIRE_MESSAGE(report.ok(), report.message());
    REQUIRE(report->outcome == TrainOutcome::EarlyStopped);
    CHECK(report->progress.step == 20);
    const std::vector<uint8_t> last = netc::test::read_bytes(dir / "last.safetensors");
    const std::string metrics = read_text(dir / "metrics.jsonl");

    c.resume = true;
    Result<TrainReport> resumed = train(model, data, c);
    REQUIRE_MESSAGE(resumed.ok(), resumed.message());
    CHECK(resumed->outcome == TrainOutcome::EarlyStopped);
    CHECK(resumed->progress.step == 20);
    CHECK(netc::test::read_bytes(dir / "last.safetensors") == last);
    CHECK(read_text(dir / "metrics.jsonl") == metrics);
}

TEST_CASE("weights without netc's metadata load as a PyTorch state_dict, for use, not to resume") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    std::vector<float> weight(3 * 16), bias = {0.5f, -1.0f, 2.0f};
    for (size_t i = 0; i < weight.size(); i++) weight[i] = 0.01f * (float)i;
    const int64_t counter = 12;
    const std::string path = dir / "state_dict.safetensors";
    auto write = [&](std::vector<TensorView> views) {
        REQUIRE(write_safetensors(path, views, {}).ok());
    };
    write({{"fc.weight", DType::F32, {3, 16}, weight.data()},
           {"fc.bias", DType::F32, {3}, bias.data()}});
    Result<Checkpoint> ckpt = load_checkpoint(path, model, false);
    REQUIRE_MESSAGE(ckpt.ok(), ckpt.message());
    CHECK(ckpt->foreign);
    CHECK(ckpt->class_names == std::vector<std::string>{"0", "1", "2"});
    CHECK(ckpt->normalization.mean == std::vector<float>{0.0f});
    CHECK(ckpt->normalization.stddev == std::vector<float>{1.0f});
    CHECK(ckpt->params[5] == weight[5]);
    CHECK(ckpt->params[48 + 2] == 2.0f);

    // Nothing to resume from.
    CHECK(load_checkpoint(path, model, true).message() ==
          path + ": not a netc checkpoint (no 'format' in __metadata__): weights from elsewhere, "
                 "such as a PyTorch state_dict, can be evaluated, predicted with and compiled in, "
                 "but hold no optimizer state or step to resume");

    // Every difference from the model is listed, what was expected beside what was found.
    write({{"fc.weight", DType::F32, {16, 3}, weight.data()},
           {"head.bias", DType::F32, {3}, bias.data()},
           {"bn.num_batches_tracked", DType::I64, {}, &counter}});
    CHECK(load_checkpoint(path, model, false).message() ==
          path + ": tensor 'fc.weight' has shape [16, 3] but the model expects [3, 16]\n" + path +
              ": missing tensor 'fc.bias' (the model expects F32 [3])\n" + path +
              ": unexpected tensor 'head.bias' F32 [3]: the model has no such tensor\n" + path +
              ": unexpected tensor 'bn.num_batches_tracked' I64 []: the model has no such "
              "tensor\n" +
              path +
              ": the weights (a file without netc's metadata, read as a PyTorch state_dict) do "
              "not fit model 'tiny'");

    // A batchnorm's counter, which torch saves beside its running statistics, is ignored.
    CHECK(torch_only_tensors({"bn1.weight", "bn1.running_mean", "bn1.running_var", "fc.weight"}) ==
          std::vector<std::string>{"bn1.num_batches_tracked"});
}
