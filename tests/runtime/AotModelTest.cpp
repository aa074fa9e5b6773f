// The runtime's training loop over an AOT object (runtime/AotModel.h): fashion_mlp's object,
// linked into this test as an application links it, described by its netc_model, trains through
// runtime::train exactly as `netc train` trains the same model through the JIT; fashion_knn's
// object fits its reference set as `netc train` does.

#include "runtime/AotModel.h"
#include "fashion_knn.h"
#include "fashion_mlp.h"
#include "runtime/TestFiles.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <sys/wait.h>

using namespace netc::runtime;
using netc::test::TempDir;

namespace {

const char *const fashion_dir = "/usr/share/datasets/fashion-mnist";

Dataset first_samples(const AotModel &model, int64_t count) {
    Result<Dataset> data = load_dataset(fashion_dir, DataSplit::Train, model.info().data);
    REQUIRE_MESSAGE(data.ok(), data.message());
    keep_first(*data, count);
    return std::move(*data);
}

int run_netc(const std::string &args) {
    std::string command = std::string(NETC_BINARY) + " " + args + " >/dev/null 2>&1";
    int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("the object describes its model: shapes, tensors, optimizer, train block") {
    const netc_model &m = fashion_mlp_model;
    CHECK(std::string(m.name) == "fashion_mlp");
    CHECK(m.input_channels == 1);
    CHECK(m.input_height == 28);
    CHECK(m.input_width == 28);
    CHECK(m.classes == 10);
    CHECK(m.param_count == FASHION_MLP_PARAM_COUNT);
    CHECK(m.opt_state_count == FASHION_MLP_OPT_STATE_COUNT);
    REQUIRE(m.param_tensor_count == 6);
    CHECK(m.params == fashion_mlp_params);
    CHECK(std::string(m.optimizer) == "adam");
    REQUIRE(m.optimizer_slot_count == 2);
    CHECK(std::string(m.optimizer_slots[0]) == "exp_avg");
    CHECK(std::string(m.optimizer_slots[1]) == "exp_avg_sq");
    CHECK((m.train_step == &fashion_mlp_train_step));
    CHECK((m.gradient == &fashion_mlp_gradient));
    CHECK((m.apply_update == &fashion_mlp_apply_update));

    AotModel model(m);
    const ModelInfo &info = model.info();
    REQUIRE(info.tensors.size() == 6);
    CHECK(info.tensors[0].name == "fc1.weight");
    CHECK(info.tensors[0].shape == std::vector<int64_t>{256, 784});
    CHECK(info.tensors[1].name == "fc1.bias");
    CHECK(info.tensors[1].offset == fashion_mlp_params[1].offset);

    TrainConfig config = train_config(m);
    CHECK(config.batch == 128);
    CHECK(config.epochs == 15);
    CHECK(config.seed == 1);
    CHECK(config.validation == doctest::Approx(0.1));
    CHECK(m.augment_count == 0);  // fashion_mlp's train block has no augment list
    CHECK(config.augment.empty());
    CHECK(config.patience == 0);
}

TEST_CASE("runtime::train drives the object as netc train drives the JIT: the same parameters") {
    AotModel model(fashion_mlp_model);
    Dataset data = first_samples(model, 2560);
    TempDir aot_run, jit_run;
    TrainConfig config = train_config(fashion_mlp_model);
    config.epochs = 2;  // cosine over the run: 2 x 18 steps of 128 (256 samples held out)
    config.out_dir = aot_run.path();
    Result<TrainReport> report = train(model, data, config);
    REQUIRE_MESSAGE(report.ok(), report.message());
    CHECK(report->progress.step == 36);
    CHECK(report->last_loss < report->first_loss);

    REQUIRE(run_netc("train " + std::string(NETC_SOURCE_DIR) + "/examples/fashion_mlp.net --data " +
                     fashion_dir + " --limit 2560 --epochs 2 --out " + jit_run.path()) == 0);
    Result<Checkpoint> aot = load_checkpoint(aot_run / "last.safetensors", model, true);
    Result<Checkpoint> jit = load_checkpoint(jit_run / "last.safetensors", model, true);
    REQUIRE_MESSAGE(aot.ok(), aot.message());
    REQUIRE_MESSAGE(jit.ok(), jit.message());
    CHECK(aot->progress.step == jit->progress.step);
    // The JIT and the object come from the same pipelines and the same target: measured here
    // bit-identical; the bound leaves LLVM room to order a float operation differently.
    double worst = 0;
    for (size_t i = 0; i < aot->params.size(); i++) {
        worst = std::max(worst, (double)std::fabs(aot->params[i] - jit->params[i]) /
                                    (1e-3 + std::fabs(jit->params[i])));
    }
    CHECK(worst < 1e-6);

    // The object's checkpoint is an ordinary netc checkpoint: netc eval reads it.
    CHECK(run_netc("eval " + std::string(NETC_SOURCE_DIR) + "/examples/fashion_mlp.net --weights " +
                   aot_run / "best.safetensors" + " --data " + fashion_dir) == 0);
}

TEST_CASE("the object's return codes become errors that say what went wrong") {
    AotModel model(fashion_mlp_model);
    std::vector<float> params((size_t)model.param_count()), state((size_t)model.opt_state_count());
    model.init(1, params.data());
    std::vector<float> images(2 * FASHION_MLP_INPUT_SIZE, 0.5f), probs(2 * FASHION_MLP_CLASSES);
    std::vector<int32_t> labels = {3, 10};
    model.set_total_steps(100);
    StepLosses losses;
    Status s =
        model.train_step(params.data(), state.data(), images.data(), labels.data(), 2, 7, losses);
    REQUIRE_FALSE(s.ok());
    CHECK(s.message() ==
          "step 7: fashion_mlp_train_step returned 3: a label is outside [0, classes)");

    Status big = model.predict(params.data(), images.data(), int64_t(1) << 40, probs.data());
    REQUIRE_FALSE(big.ok());
    CHECK(big.message() == "fashion_mlp_predict returned 2: the batch is < 1 or too large");

    labels[1] = 9;
    CHECK(model.train_step(params.data(), state.data(), images.data(), labels.data(), 2, 0, losses)
              .ok());
    CHECK(losses.learning_rate > 0);
    CHECK(model.predict(params.data(), images.data(), 2, probs.data()).ok());
    CHECK(probs[0] + probs[1] + probs[2] + probs[3] + probs[4] + probs[5] + probs[6] + probs[7] +
              probs[8] + probs[9] ==
          doctest::Approx(1.0));
}

TEST_CASE(
    "the object's gradient then apply_update equals its train_step; a negative step is refused") {
    AotModel model(fashion_mlp_model);
    std::vector<float> fused((size_t)model.param_count()), state((size_t)model.opt_state_count());
    model.init(4, fused.data());
    std::vector<float> split = fused, split_state = state, grad((size_t)model.param_count());
    std::vector<float> images(8 * FASHION_MLP_INPUT_SIZE);
    for (size_t i = 0; i < images.size(); i++) images[i] = (float)((i * 37) % 101) / 101.0f;
    std::vector<int32_t> labels = {0, 1, 2, 3, 4, 5, 6, 7};
    model.set_total_steps(100);
    for (int64_t step = 0; step < 5; step++) {
        StepLosses a, b;
        REQUIRE(
            model.train_step(fused.data(), state.data(), images.data(), labels.data(), 8, step, a)
                .ok());
        REQUIRE(
            model.gradient(split.data(), images.data(), labels.data(), 8, 0, step, grad.data(), b)
                .ok());
        REQUIRE(model.apply_update(split.data(), split_state.data(), grad.data(), step).ok());
        CHECK(a.data_loss == doctest::Approx(b.data_loss).epsilon(1e-6));
        double worst = 0;
        for (size_t i = 0; i < split.size(); i++) {
            worst = std::max(worst, (double)std::fabs(split[i] - fused[i]) /
                                        std::max(1.0, (double)std::fabs(fused[i])));
        }
        CHECK(worst <= 1e-6);
    }
    // Item 1 of the hardening issue: a negative step used to return NETC_OK with NaN weights.
    std::vector<float> before = fused;
    StepLosses losses;
    Status s =
        model.train_step(fused.data(), state.data(), images.data(), labels.data(), 8, -5, losses);
    REQUIRE_FALSE(s.ok());
    CHECK(s.message() == "step -5: fashion_mlp_train_step returned 6: the step is negative");
    CHECK(fused == before);
    CHECK(fashion_mlp_apply_update(fused.data(), state.data(), grad.data(), -1) ==
          NETC_ERROR_BAD_STEP);
    CHECK(fused == before);
}

TEST_CASE("a kNN object fits and classifies as netc train and eval do through the JIT") {
    const netc_model &m = fashion_knn_model;
    CHECK(m.feature_count == FASHION_KNN_FEATURES);
    CHECK(m.k == FASHION_KNN_K);
    CHECK((m.classify == &fashion_knn_classify));
    CHECK((m.train_step == nullptr));
    CHECK((m.init == nullptr));
    AotNeighbors model(m);
    Result<Dataset> all = load_dataset(fashion_dir, DataSplit::Train, model.info().data);
    REQUIRE_MESSAGE(all.ok(), all.message());
    keep_first(*all, 3000);
    const Dataset &data = *all;
    Result<KnnFit> fit = fit_knn(model, data, knn_config(m));
    REQUIRE_MESSAGE(fit.ok(), fit.message());
    CHECK(fit->reference.count == 2700);  // 300 held out
    CHECK(fit->validation_accuracy > 0.7);

    TempDir aot_run, jit_run;
    REQUIRE(save_knn_checkpoint(aot_run / "best.safetensors", model, *fit, data.class_names, m.seed)
                .ok());
    REQUIRE(run_netc("train " + std::string(NETC_SOURCE_DIR) + "/examples/fashion_knn.net --data " +
                     fashion_dir + " --limit 3000 --out " + jit_run.path()) == 0);
    Result<KnnCheckpoint> aot = load_knn_checkpoint(aot_run / "best.safetensors", model);
    Result<KnnCheckpoint> jit = load_knn_checkpoint(jit_run / "best.safetensors", model);
    REQUIRE_MESSAGE(aot.ok(), aot.message());
    REQUIRE_MESSAGE(jit.ok(), jit.message());
    CHECK(aot->reference.values == jit->reference.values);
    CHECK(aot->reference.labels == jit->reference.labels);
    CHECK(aot->normalization.mean == jit->normalization.mean);

    // Too small a reference set is the object's documented error, not a crash.
    ReferenceSet few = fit->reference;
    few.count = FASHION_KNN_K - 1;
    std::vector<float> probs(10);
    Status s = model.classify(few, fit->reference.values.data(), 1, probs.data());
    CHECK_FALSE(s.ok());
    CHECK(s.message().find("fewer than k") != std::string::npos);
}
