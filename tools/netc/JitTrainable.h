#pragma once
// The JIT-compiled model behind the runtime's TrainableModel interface (a kNN model's behind
// NeighborModel), so `netc train`, `eval` and `predict` drive compiler/Jit.h through the same
// loop an AOT application would use; and the model's train block as the runtime's TrainConfig.

#include "compiler/Graph.h"
#include "compiler/Jit.h"
#include "compiler/ParamLayout.h"
#include "runtime/Knn.h"
#include "runtime/TrainableModel.h"
#include "runtime/Trainer.h"

namespace netc {

class JitTrainable : public runtime::TrainableModel {
public:
    JitTrainable(const Graph &graph, const ParamLayout &layout, Strategy strategy = Strategy::Netc);

    const runtime::ModelInfo &info() const override { return info_; }
    int64_t param_count() const override { return jit_.layout().total; }
    int64_t opt_state_count() const override { return jit_.opt_state_count(); }
    void set_total_steps(int64_t steps) override { jit_.set_total_steps(steps); }
    void init(uint64_t seed, float *params) override { jit_.init(seed, params); }
    runtime::Status predict(const float *params, const float *images, int64_t batch,
                            float *probs) override;
    runtime::Status train_step(float *params, float *opt_state, const float *images,
                               const int32_t *labels, int64_t batch, int64_t step,
                               runtime::StepLosses &losses) override;
    runtime::Status gradient(const float *params, const float *images, const int32_t *labels,
                             int64_t batch, int64_t sample_offset, int64_t step, float *grad,
                             runtime::StepLosses &losses) override;
    runtime::Status apply_update(float *params, float *opt_state, const float *grad,
                                 int64_t step) override;

private:
    JitModel jit_;
    runtime::ModelInfo info_;
};

/// A kNN model (Graph::is_knn) JIT-compiled behind the runtime's NeighborModel interface.
class JitNeighbors : public runtime::NeighborModel {
public:
    JitNeighbors(const Graph &graph, const ParamLayout &layout, Strategy strategy = Strategy::Netc);

    const runtime::ModelInfo &info() const override { return info_; }
    int64_t feature_count() const override;
    int k() const override;
    runtime::Status features(const float *images, int64_t batch, float *features) override;
    runtime::Status classify(const runtime::ReferenceSet &reference, const float *images,
                             int64_t batch, float *probs) override;
    runtime::Status neighbors(const runtime::ReferenceSet &reference, const float *images,
                              int64_t batch, int32_t *indices, float *distances) override;

private:
    JitModel jit_;
    runtime::ModelInfo info_;
};

/// The input shape and classes of a model, as the data sets are checked against them.
runtime::DataSpec data_spec(const Graph &graph);

/// The model's name, data, tensors and optimizer as the runtime's checkpoints record them.
runtime::ModelInfo model_info(const Graph &graph, const ParamLayout &layout);

/// The kNN model's train block (batch, seed, validation) as the runtime's KnnConfig.
runtime::KnnConfig knn_config(const Graph &graph);

/// The model's train block (batch, epochs, seed, validation, augment, early stopping) as the
/// runtime reads it; an AOT object's netc_model describes the same (runtime/AotModel.h).
runtime::TrainBlock train_block(const Graph &graph);
/// The same as the runtime's TrainConfig (runtime/Trainer.h train_config); the caller sets the
/// output directory and what the command line says.
runtime::TrainConfig train_config(const Graph &graph);

}  // namespace netc
