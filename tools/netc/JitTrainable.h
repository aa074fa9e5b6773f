#pragma once
// The JIT-compiled model behind the runtime's TrainableModel interface, so `netc train`, `eval`
// and `predict` drive compiler/Jit.h through the same loop an AOT application would use; and the
// model's train block as the runtime's TrainConfig.

#include "compiler/Graph.h"
#include "compiler/Jit.h"
#include "compiler/ParamLayout.h"
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

/// The model's train block (batch, epochs, seed, validation, augment, early stopping) as the
/// runtime's TrainConfig; the caller sets the output directory and what the command line says.
runtime::TrainConfig train_config(const Graph &graph);

}  // namespace netc
