#pragma once
// JIT-compiles the pipelines of a model's program (compiler/Program.h) on first use and calls
// them on host memory: `netc train`, `eval`, `predict`, `bench`, `gradcheck` and the tests. All
// buffers are plain float arrays in PyTorch's layouts: the parameter arena (layout.total floats),
// images NCHW, probabilities (batch, classes).

#include "compiler/Graph.h"
#include "compiler/Lower.h"
#include "compiler/LowerProgram.h"
#include "compiler/ParamLayout.h"
#include "compiler/Program.h"
#include "compiler/Schedule.h"
#include "compiler/Target.h"

#include <Halide.h>

#include <map>
#include <memory>
#include <vector>

namespace netc {

class JitModel {
public:
    JitModel(Graph graph, ParamLayout layout, Halide::Target target = default_jit_target(),
             Strategy strategy = Strategy::Netc);
    ~JitModel();

    const Graph &graph() const { return graph_; }
    const ParamLayout &layout() const { return layout_; }
    const Program &program() const { return program_; }
    Strategy strategy() const { return strategy_; }
    const Halide::Target &target() const { return target_; }

    /// The arguments of any pipeline, by role (compiler/Program.h); those a pipeline does not
    /// take are ignored. Params and opt_state are updated in place by pipelines that output them.
    struct Call {
        uint64_t seed = 0;
        float *params = nullptr;          // (layout.total)
        float *opt_state = nullptr;       // (opt_state_count())
        const float *images = nullptr;    // (batch, C, H, W)
        const int32_t *labels = nullptr;  // (batch)
        int batch = 0;
        int64_t step = 0;
        int32_t sample_offset = 0;    // gradient: the global index of the batch's first sample
        float *grad = nullptr;        // (layout.total): written by gradient, read by apply_update
        float *losses = nullptr;      // (3)
        float *probs = nullptr;       // (batch, classes)
        float *image_grad = nullptr;  // (batch, C, H, W)
        // kNN models (compiler/Knn.h):
        float *features = nullptr;                  // (batch, features)
        const float *reference = nullptr;           // (reference_count, features)
        const int32_t *reference_labels = nullptr;  // (reference_count)
        int reference_count = 0;
        int32_t *neighbors = nullptr;  // (batch, k)
        float *distances = nullptr;    // (batch, k)
    };
    /// Runs the pipeline called `name` (compiling it on first use). Throws std::invalid_argument
    /// on a label (or reference label) outside [0, classes), a negative step, or a reference set
    /// of fewer than k samples (nothing is changed then).
    void run(const std::string &name, const Call &call);

    /// Compiles the named pipelines now rather than on first use. Throws StrategyError when the
    /// strategy cannot schedule or compile one.
    void compile(const std::vector<std::string> &names);

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
    /// One training step, updating `params` and `opt_state` in place.
    StepResult train_step(float *params, float *opt_state, const float *images,
                          const int32_t *labels, int batch, int64_t step);
    /// The gradient arena of a batch (`grad`, layout.total floats), nothing updated. The batch
    /// is the shard of the step's global batch that starts at `sample_offset` (dropout masks
    /// are keyed by the global sample index).
    StepResult gradient(const float *params, const float *images, const int32_t *labels, int batch,
                        int64_t step, float *grad, int32_t sample_offset = 0);
    /// The optimizer's step from a gradient arena, updating params and opt_state in place.
    void apply_update(float *params, float *opt_state, const float *grad, int64_t step);

    /// The full gradient for a gradient check: dL/dparams over the arena (regularization
    /// included) and dL/dimages (NCHW), with the losses, without updating.
    struct Gradient {
        std::vector<float> params;
        std::vector<float> images;
        StepResult losses;
    };
    Gradient gradient_check(const float *params, const float *images, const int32_t *labels,
                            int batch, int64_t step);
    /// The losses of a training-mode forward pass (dropout masks of `step`), nothing updated.
    StepResult loss(const float *params, const float *images, const int32_t *labels, int batch,
                    int64_t step);

    /// The training graph (forward + derived backward).
    const Graph &train_graph() const { return program_.train_graph; }

    /// The value of one node for `images`, as NCHW (batch, C, H, W) or (batch, F) floats: for
    /// tests that compare single ops against references. Compiled on first use per (node, mode).
    std::vector<float> evaluate(int node, Mode mode, const float *params, const float *images,
                                int batch, uint32_t rng_key = 0);

private:
    struct Evaluator;
    struct Compiled;
    Compiled &compiled(const PipelineSpec &spec);

    Graph graph_;
    ParamLayout layout_;
    Halide::Target target_;
    Strategy strategy_;
    Program program_;
    int64_t total_steps_ = 0;
    std::map<std::string, std::unique_ptr<Compiled>> compiled_;
    std::vector<float> grad_workspace_;  // train_step's gradient arena when it is composed
    std::map<std::pair<int, int>, std::shared_ptr<Evaluator>> evaluators_;
};

/// Wraps host memory in a Halide buffer with the given extents, innermost first.
Halide::Buffer<float> wrap(const float *data, std::vector<int> extents);

}  // namespace netc
