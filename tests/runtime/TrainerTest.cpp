// The training loop and checkpoints over a small model written in plain C++ (a linear softmax
// classifier with momentum), so these tests need neither the compiler nor Halide.

#include "runtime/Checkpoint.h"
#include "runtime/Safetensors.h"
#include "runtime/Trainer.h"
#include "runtime/TestFiles.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>

using namespace netc::runtime;
using netc::test::TempDir;

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
        for (int64_t i = 0; i < count_; i++) params[i] = 0.01f * (float)((i * 7 + seed) % 11) - 0.05f;
    }
    Status predict(const float *params, const float *images, int64_t batch, float *probs) override {
        int k = info_.data.classes;
        for (int64_t n = 0; n < batch; n++) scores(params, images + n * features_, probs + n * k);
        return {};
    }
    Status train_step(float *params, float *opt_state, const float *images, const int32_t *labels,
                      int64_t batch, int64_t step, StepLosses &losses) override {
        int k = info_.data.classes;
        std::vector<float> grad((size_t)count_, 0.0f), p((size_t)k);
        double loss = 0;
        for (int64_t n = 0; n < batch; n++) {
            if (labels[n] < 0 || labels[n] >= k) return Status::error("label out of range");
            const float *x = images + n * features_;
            scores(params, x, p.data());
            loss -= std::log(std::max(p[(size_t)labels[n]], 1e-30f));
            for (int c = 0; c < k; c++) {
                float d = (p[(size_t)c] - (c == labels[n] ? 1.0f : 0.0f)) / (float)batch;
                for (int f = 0; f < features_; f++) grad[(size_t)(c * features_ + f)] += d * x[f];
                grad[(size_t)(k * features_ + c)] += d;
            }
        }
        float lr = poison_step == step ? NAN : 0.1f;
        for (int64_t i = 0; i < count_; i++) {
            opt_state[i] = 0.9f * opt_state[i] + grad[(size_t)i];
            params[i] -= lr * opt_state[i];
        }
        losses = {(float)(loss / (double)batch) * (poison_step == step ? NAN : 1.0f), 0, lr};
        return {};
    }
    int64_t poison_step = -1; // a step whose loss is NaN

  private:
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

} // namespace

TEST_CASE("training learns, keeps the best checkpoint and writes metrics") {
    TempDir dir;
    TinyLinear model("tiny", 3, 4);
    Dataset data = toy_data(200);
    Result<TrainReport> report = train(model, data, config_in(dir.path()));
    REQUIRE_MESSAGE(report.ok(), report.message());
    CHECK(report->outcome == TrainOutcome::Finished);
    CHECK(report->progress.step == 3 * 10); // 160 training samples in batches of 16
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
    first.max_steps = 13; // mid-epoch
    Result<TrainReport> stopped = train(model, data, first);
    REQUIRE_MESSAGE(stopped.ok(), stopped.message());
    CHECK(stopped->outcome == TrainOutcome::StepLimit);
    CHECK(stopped->progress.step == 13);
    TrainConfig rest = config_in(parts.path());
    rest.resume = true;
    Result<TrainReport> resumed = train(model, data, rest);
    REQUIRE_MESSAGE(resumed.ok(), resumed.message());
    CHECK(resumed->progress.step == 30);
    CHECK(params_of(whole / "last.safetensors", model) == params_of(parts / "last.safetensors", model));
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
