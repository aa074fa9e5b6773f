#pragma once
// A model compiled ahead of time behind the TrainableModel interface, so the runtime's training
// loop, evaluation and checkpoints drive an object linked into an application exactly as
// `netc train` drives the JIT:
//
//   #include "fashion_mlp.h"            // the header netc wrote beside the object
//   #include "runtime/AotModel.h"
//   netc::runtime::AotModel model(fashion_mlp_model);
//   netc::runtime::TrainConfig config = netc::runtime::train_config(fashion_mlp_model);
//   netc::runtime::train(model, data, config);
//
// It needs nothing but the object and netc_runtime (no Halide, no compiler).

#include "runtime/Knn.h"
#include "runtime/ModelApi.h"
#include "runtime/TrainableModel.h"
#include "runtime/Trainer.h"

namespace netc::runtime {

class AotModel : public TrainableModel {
public:
    /// `model` is `<model>_model` of a linked object; it must outlive this.
    explicit AotModel(const netc_model &model);

    const ModelInfo &info() const override { return info_; }
    int64_t param_count() const override { return model_.param_count; }
    int64_t opt_state_count() const override { return model_.opt_state_count; }
    void set_total_steps(int64_t steps) override;
    void init(uint64_t seed, float *params) override;
    Status predict(const float *params, const float *images, int64_t batch, float *probs) override;
    /// An error for a model whose object has no train step.
    Status train_step(float *params, float *opt_state, const float *images, const int32_t *labels,
                      int64_t batch, int64_t step, StepLosses &losses) override;
    Status gradient(const float *params, const float *images, const int32_t *labels, int64_t batch,
                    int64_t sample_offset, int64_t step, float *grad, StepLosses &losses) override;
    Status apply_update(float *params, float *opt_state, const float *grad, int64_t step) override;

private:
    const netc_model &model_;
    ModelInfo info_;
};

/// A kNN model's object (`classify knn`) behind the NeighborModel interface, so fit_knn, the
/// kNN checkpoints and evaluate drive it as `netc train` and `eval` drive the JIT.
class AotNeighbors : public NeighborModel {
public:
    /// `model` is `<model>_model` of a linked kNN object (its `classify` is set); it must
    /// outlive this.
    explicit AotNeighbors(const netc_model &model);

    const ModelInfo &info() const override { return info_; }
    int64_t feature_count() const override { return model_.feature_count; }
    int k() const override { return model_.k; }
    Status features(const float *images, int64_t batch, float *features) override;
    Status classify(const ReferenceSet &reference, const float *images, int64_t batch,
                    float *probs) override;
    Status neighbors(const ReferenceSet &reference, const float *images, int64_t batch,
                     int32_t *indices, float *distances) override;

private:
    const netc_model &model_;
    ModelInfo info_;
};

/// The kNN model's train block (batch, seed, validation) as a KnnConfig.
KnnConfig knn_config(const netc_model &model);

/// The model's train block (batch, epochs, seed, validation, augment, early stopping) as the
/// object describes it.
TrainBlock train_block(const netc_model &model);
/// The same as a TrainConfig (runtime/Trainer.h train_config), as `netc train` makes it from the
/// model's file.
TrainConfig train_config(const netc_model &model);

/// What a NETC_ERROR_* return code means, for messages.
const char *return_code_meaning(int32_t code);

}  // namespace netc::runtime
