#pragma once
// JIT-compiles a model's entry points once and calls them on host memory. Tests use it, and
// `netc train` will drive it. All buffers are plain float arrays in PyTorch's layouts: the
// parameter arena (layout.total floats), images NCHW, probabilities (batch, classes).

#include "compiler/EntryPoints.h"
#include "compiler/Graph.h"
#include "compiler/Lower.h"
#include "compiler/ParamLayout.h"

#include <Halide.h>

#include <map>
#include <memory>
#include <vector>

namespace netc {

class JitModel {
public:
    JitModel(Graph graph, ParamLayout layout,
             Halide::Target target = Halide::get_jit_target_from_environment());

    const Graph &graph() const { return graph_; }
    const ParamLayout &layout() const { return layout_; }

    /// Fills `params` (layout.total floats) from the declared initializers.
    void init(uint64_t seed, float *params);
    /// Inference: `images` (batch, C, H, W) -> `probs` (batch, classes).
    void predict(const float *params, const float *images, int batch, float *probs);

    /// Floats of optimizer state (zeroed before the first step): slots x layout.total.
    int64_t opt_state_count() const;
    /// The run's length, for schedules such as cosine without `steps` of their own.
    void set_total_steps(int64_t steps) { total_steps_ = steps; }

    struct StepResult {
        float data_loss = 0;       // batch mean of the data loss
        float regularization = 0;  // the regularization term
        float learning_rate = 0;   // the rate this step used
    };
    /// One training step, updating `params` and `opt_state` in place. Throws std::invalid_argument
    /// on a label outside [0, classes) (nothing is updated then).
    StepResult train_step(float *params, float *opt_state, const float *images,
                          const int32_t *labels, int batch, int64_t step);

    /// The full gradient for a gradient check: dL/dparams over the arena (regularization
    /// included, 0 for buffers) and dL/dimages (NCHW), with the losses, without updating.
    struct Gradient {
        std::vector<float> params;
        std::vector<float> images;
        StepResult losses;
    };
    Gradient gradient(const float *params, const float *images, const int32_t *labels, int batch,
                      int64_t step);
    /// The losses of a training-mode forward pass (dropout masks of `step`), nothing updated.
    StepResult loss(const float *params, const float *images, const int32_t *labels, int batch,
                    int64_t step);

    /// The training graph (forward + derived backward), compiled on first use.
    const Graph &train_graph();

    /// The value of one node for `images`, as NCHW (batch, C, H, W) or (batch, F) floats: for
    /// tests that compare single ops against references. Compiled on first use per (node, mode).
    std::vector<float> evaluate(int node, Mode mode, const float *params, const float *images,
                                int batch, uint32_t rng_key = 0);

private:
    struct Evaluator;
    /// Binds the training inputs of `entry` (compiling it on first use).
    void bind_training(std::unique_ptr<TrainEntry> &entry, TrainOutputs outputs,
                       const float *params, float *opt_state, const float *images,
                       const int32_t *labels, int batch, int64_t step);

    Graph graph_;
    ParamLayout layout_;
    Halide::Target target_;
    std::unique_ptr<InitEntry> init_;
    std::unique_ptr<PredictEntry> predict_;
    std::unique_ptr<TrainEntry> train_, gradient_, loss_;
    int64_t total_steps_ = 0;
    std::map<std::pair<int, int>, std::shared_ptr<Evaluator>> evaluators_;
};

/// Wraps host memory in a Halide buffer with the given extents, innermost first.
Halide::Buffer<float> wrap(const float *data, std::vector<int> extents);

}  // namespace netc
