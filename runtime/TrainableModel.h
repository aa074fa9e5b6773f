#pragma once
// The one interface the training loop (runtime/Trainer.h) drives a compiled model through, so the
// same loop trains a JIT-compiled model (tools/netc/JitTrainable.h, over compiler/Jit.h) and an
// AOT object (an adapter over its plain C API). Everything is flat host memory in PyTorch's
// layouts: the parameter arena (param_count() floats), optimizer state (opt_state_count() floats:
// slots x param_count()), images NCHW, probabilities (batch, classes).
//
// Also the description of a model the runtime needs to save and load it: its tensors in the
// arena, by their torch names and shapes, and the names of its optimizer's state slots.

#include "runtime/Dataset.h"
#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

/// One tensor of the parameter arena.
struct ArenaTensor {
    std::string name;            // "fc1.weight", as torch.nn names it
    std::vector<int64_t> shape;  // torch layout: Linear weight [out, in]
    int64_t offset = 0;          // in floats from the start of the arena
    bool trainable = true;       // false for buffers (BatchNorm running statistics)
};

struct ModelInfo {
    std::string name;                          // the model's name
    DataSpec data;                             // its input shape and number of classes
    std::vector<ArenaTensor> tensors;          // in arena order
    std::vector<std::string> optimizer_slots;  // names of the state slots: "exp_avg", "exp_avg_sq"
    std::string optimizer;                     // "adam", for checkpoint metadata
};

struct StepLosses {
    float data_loss = 0;       // batch mean of the data loss
    float regularization = 0;  // the regularization term
    float learning_rate = 0;   // the rate this step used
};

class TrainableModel {
public:
    virtual ~TrainableModel() = default;

    virtual const ModelInfo &info() const = 0;
    /// Floats in the parameter arena (tensors, alignment padding included).
    virtual int64_t param_count() const = 0;
    /// Floats of optimizer state: optimizer_slots.size() x param_count().
    virtual int64_t opt_state_count() const = 0;
    /// The run's length in steps, for schedules (cosine, ...) that need it.
    virtual void set_total_steps(int64_t steps) = 0;

    /// Fills `params` from the model's initializers.
    virtual void init(uint64_t seed, float *params) = 0;
    /// Inference: images (batch, C, H, W) -> probs (batch, classes).
    virtual Status predict(const float *params, const float *images, int64_t batch,
                           float *probs) = 0;
    /// One training step at global step `step` (the schedule and the dropout stream depend on it),
    /// updating params and opt_state in place. A bad label is an error, nothing updated then.
    virtual Status train_step(float *params, float *opt_state, const float *images,
                              const int32_t *labels, int64_t batch, int64_t step,
                              StepLosses &losses) = 0;
    /// The first half of a step: the gradient arena of a batch (param_count() floats: dL/dparams
    /// with regularization; the batch statistic at batchnorm buffers), nothing updated. The
    /// batch is the shard of the step's global batch that starts at `sample_offset` (0 in one
    /// process): dropout masks are keyed by the global sample index.
    virtual Status gradient(const float *params, const float *images, const int32_t *labels,
                            int64_t batch, int64_t sample_offset, int64_t step, float *grad,
                            StepLosses &losses) = 0;
    /// The second half: the optimizer's step from a gradient arena (the same one, or one summed
    /// across processes), updating params and opt_state in place. train_step equals gradient
    /// then apply_update.
    virtual Status apply_update(float *params, float *opt_state, const float *grad,
                                int64_t step) = 0;
};

}  // namespace netc::runtime
