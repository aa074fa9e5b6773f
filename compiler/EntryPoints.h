#pragma once
// A model's entry points as Halide pipelines, built once and shared by the JIT and the AOT
// object, so both run the same code:
//   init(seed, params)              fills the parameter arena from the declared initializers
//   predict(params, images, probs)  inference-mode forward pass and softmax
// Buffer shapes are constrained (arena size, image size, class count) so a caller passing a
// wrong buffer gets an error code from the generated code, never an out-of-bounds access.

#include "compiler/Graph.h"
#include "compiler/LowerForward.h"
#include "compiler/ParamLayout.h"

#include <Halide.h>

#include <memory>
#include <string>
#include <vector>

namespace netc {

struct InitEntry {
    Halide::Param<uint64_t> seed{"seed"};
    Halide::Func arena;  // output: (i), layout.total floats
    Halide::Pipeline pipeline;
    std::vector<Halide::Argument> arguments() const { return {seed}; }
};

struct PredictEntry {
    Halide::ImageParam params{Halide::Float(32), 1, "params"};  // (i)
    Halide::ImageParam images{Halide::Float(32), 4, "images"};  // NCHW: (x, y, c, n)
    Forward forward;
    Halide::Pipeline pipeline;  // output: probs (class, n)
    std::vector<Halide::Argument> arguments() const { return {params, images}; }
};

InitEntry build_init(const ParamLayout &layout, const Halide::Target &target);

/// Trained weights compiled into the object, with the normalization they were trained under.
struct EmbeddedWeights {
    std::vector<float> arena;   // (layout.total)
    std::vector<float> mean;    // (channels); empty: none
    std::vector<float> stddev;  // (channels)
};

/// predict_embedded(images, probs): raw images in [0, 1], normalized inside with the training
/// statistics, classified with the embedded arena (stored in the object as constant data).
struct EmbeddedPredictEntry {
    Halide::ImageParam images{Halide::Float(32), 4, "images"};  // NCHW: (x, y, c, n)
    Halide::Pipeline pipeline;
    std::vector<Halide::Argument> arguments() const { return {images}; }
};

EmbeddedPredictEntry build_predict_embedded(const Graph &graph, const ParamLayout &layout,
                                            const Halide::Target &target, int batch_estimate,
                                            const EmbeddedWeights &weights);

PredictEntry build_predict(const Graph &graph, const ParamLayout &layout,
                           const Halide::Target &target, int batch_estimate);

/// Constrains `params` to the arena's size and `images` to the model's input shape.
void constrain_inputs(const Graph &graph, const ParamLayout &layout, Halide::ImageParam &params,
                      Halide::ImageParam &images, int batch_estimate);

}  // namespace netc

namespace netc {

/// train_step(params, opt_state slots..., images, labels, step, total_steps)
///   -> (params', slots'..., losses)
/// The AOT wrapper passes the same memory for params and params' (and each state slot), so the
/// step updates the arena in place.
struct TrainEntry {
    Halide::ImageParam params{Halide::Float(32), 1, "params"};
    std::vector<Halide::ImageParam> state;  // one per optimizer slot, each (i)
    Halide::ImageParam images{Halide::Float(32), 4, "images"};
    Halide::ImageParam labels{Halide::Int(32), 1, "labels"};
    Halide::Param<int64_t> step{"step"};
    Halide::Param<int64_t> total_steps{"total_steps"};  // the run's length, for the schedule
    Graph graph;                                        // the training graph (forward + backward)
    Halide::Pipeline pipeline;  // outputs: update (a Tuple: params', slots'...), losses (3)
    std::vector<Halide::Argument> arguments() const;
};

/// What a training pipeline produces.
enum class TrainOutputs {
    Update,    // the train step: params', state slots', losses
    Gradient,  // dL/dparams over the arena (regularization included), losses, dL/dimages (NCHW)
    Loss,      // losses only
};

std::unique_ptr<TrainEntry> build_train(const Graph &forward_graph, const ParamLayout &layout,
                                        const Halide::Target &target,
                                        TrainOutputs outputs = TrainOutputs::Update);

}  // namespace netc
