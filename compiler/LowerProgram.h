#pragma once
// Pass: one pipeline of the program (compiler/Program.h) -> Halide: its arguments, made from the
// spec's roles, and the algorithm of its outputs, lowered from the graph (compiler/LowerForward.h,
// LowerTrain.h, LowerInit.h). No schedule: compiler/Schedule.h gives every Func one. The JIT and
// the AOT object lower the same pipelines, so both run the same code.
//
// Buffer shapes are constrained (arena size, image size, class count), so a caller passing a
// wrong buffer gets an error code from the generated code, never an out-of-bounds access; so is
// the step (>= 0) and, where the schedule needs it, the run's length (>= 1).

#include "compiler/Graph.h"
#include "compiler/Knn.h"
#include "compiler/LowerForward.h"
#include "compiler/ParamLayout.h"
#include "compiler/Program.h"

#include <Halide.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace netc {

/// Trained weights compiled into the object, with the normalization they were trained under.
struct EmbeddedWeights {
    std::vector<float> arena;   // (layout.total)
    std::vector<float> mean;    // (channels); empty: none
    std::vector<float> stddev;  // (channels)
    // A kNN model's stored set, which the exports carry (an object does not: the application
    // passes it): (samples, features) row by row, and each sample's class.
    std::vector<float> reference;
    std::vector<int32_t> reference_labels;
};

/// A pipeline as Halide: its inputs by role, its output Funcs, and the named stages the
/// schedule stage gives schedules to.
struct LoweredPipeline {
    const PipelineSpec *spec = nullptr;
    const ParamLayout *layout = nullptr;
    const Graph *graph = nullptr;  // the graph whose nodes `forward` holds (forward or training)
    std::shared_ptr<const Graph> own_graph;  // that graph, when only this pipeline needs it

    // The inputs, those of spec->inputs defined.
    Halide::Param<uint64_t> seed{"seed"};
    Halide::ImageParam params{Halide::Float(32), 1, "params"};  // (i)
    std::vector<Halide::ImageParam> state;                      // one (i) per slot
    Halide::ImageParam images{Halide::Float(32), 2, "images"};  // NCHW samples: (i, n)
    Halide::ImageParam labels{Halide::Int(32), 1, "labels"};    // (n)
    Halide::ImageParam grad{Halide::Float(32), 1, "grad"};      // (i)
    Halide::Param<int64_t> step{"step"};
    Halide::Param<int32_t> sample_offset{"sample_offset"};
    Halide::Param<int64_t> total_steps{"total_steps"};
    Halide::ImageParam reference{Halide::Float(32), 2, "reference"};              // kNN: (f, r)
    Halide::ImageParam reference_labels{Halide::Int(32), 1, "reference_labels"};  // (r)
    std::vector<Halide::Argument> arguments;  // in spec->inputs order, slots expanded

    // The algorithm.
    std::vector<Halide::Func> outputs;  // one per output role; a Tuple Func holds params+slots
    Forward forward;                    // the nodes' lowerings (empty for init, apply_update)
    std::map<std::string, Halide::Func> stages;  // the pipeline's own stages: "input", "probs",
                                                 // "losses", "gradient", "update", "image_grad"...
    std::map<std::string, std::vector<Halide::RDom>> ranges;  // per layout entry, the domains
                                                              // of "init", "gradient", "update"
    Halide::Pipeline pipeline;                                // over `outputs`
    std::shared_ptr<KnnFuncs> knn;  // a kNN model's pipelines: their stages (compiler/Knn.h)
};

struct LowerOptions {
    int batch_estimate = 64;                   // the batch the schedule is estimated for
    const EmbeddedWeights *weights = nullptr;  // for predict_embedded
};

/// Lowers `spec`, one of `program`'s pipelines with a pipeline of its own. `forward` is the
/// checked forward graph the program was built from.
LoweredPipeline lower_pipeline(const Program &program, const Graph &forward,
                               const ParamLayout &layout, const PipelineSpec &spec,
                               const LowerOptions &options);

/// Constrains `params` to the arena's size and `images` to the model's input shape (for
/// pipelines built outside the program, such as the tests' single-node evaluators).
void constrain_inputs(const Graph &graph, const ParamLayout &layout, Halide::ImageParam &params,
                      Halide::ImageParam &images, int batch_estimate);

}  // namespace netc
