#pragma once
// The program: what the middle end makes of a model, a list of named pipelines, each with its
// arguments and outputs described once. Every consumer reads this one list: the lowering of the
// pipelines (compiler/LowerProgram.h), the JIT (compiler/Jit.h), the AOT object's C header,
// wrappers and `<model>_model` (compiler/CApi.h), and `netc --emit=program`. Adding an entry
// point means adding it here.
//
//   init              seed -> params                         the declared initializers
//   predict           params, images -> probs                inference mode, softmax
//   gradient          params, images, labels, sample_offset, step -> grad, losses
//                     dL/dparams over the arena (regularization included); at the arena slots
//                     of batchnorm buffers, the batch statistic the step observed
//   apply_update      params, opt_state, grad, step -> params, opt_state      in place
//                     the optimizer and learning-rate schedule on trained tensors, the running
//                     averages on buffers
//   train_step        params, opt_state, images, labels, step -> params, opt_state, losses
//                     gradient then apply_update; one fused pipeline under the netc strategy,
//                     the two pipelines in sequence under the others
//   predict_embedded  images -> probs                         trained weights in the object
//   loss, gradient_check                                      JIT only: tests and gradcheck
//
// A kNN model (Graph::is_knn, compiler/Knn.h) has nothing to train and these instead:
//
//   features          images -> features                     the layers' value per sample
//   classify          reference, reference_labels, images -> probs     the k nearest's vote
//   neighbors         reference, images -> neighbors, distances        the k nearest
//
// where the reference set is the features of the stored training samples, as `features` gives
// them, one row per sample, passed in by the caller.
//
// Data-parallel training all-reduces the gradient arena between `gradient` and `apply_update`:
// each process calls `gradient` on its shard of the global batch, at the shard's sample_offset.

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"
#include "compiler/Schedule.h"

#include <string>
#include <vector>

namespace netc {

/// What an argument of an entry point holds. Each role has one C parameter (Batch has no Halide
/// argument: it is the images' extent; TotalSteps has no C parameter: the object keeps it).
enum class Role {
    Seed,           // uint64 seed of the initializers
    Params,         // the parameter arena (layout.total floats)
    OptState,       // optimizer state: one arena per slot
    Images,         // NCHW float images (batch, C, H, W)
    Labels,         // int32 class labels (batch)
    Batch,          // the batch size
    Step,           // int64 global step, from 0: drives the schedule and the dropout masks
    SampleOffset,   // int32 index of the batch's first sample in the step's global batch (a
                    // rank's shard of it under data parallelism; 0 in one process): dropout
                    // masks are keyed by the global sample index, so they do not depend on the
                    // number of processes
    TotalSteps,     // int64 length of the run, for schedules without steps= of their own
    Gradient,       // an arena: dL/dparams, batch statistics at buffer slots
    Losses,         // 3 floats: data loss (batch mean), regularization, learning rate
    Probs,          // (batch, classes) softmax probabilities
    ImageGradient,  // dL/dimages, NCHW
    // kNN models:
    Features,         // (batch, features) floats
    Reference,        // (reference_count, features) floats: the stored training set's features
    ReferenceLabels,  // int32 class of each reference sample (reference_count)
    ReferenceCount,   // the reference set's samples (no Halide argument: its extent)
    Neighbors,        // int32 (batch, k): reference indices of the k nearest, nearest first
    Distances,        // (batch, k) their distances
};

/// "params", "opt_state", ...: the role's argument name in the C API and the dumps.
const char *role_name(Role role);

struct PipelineSpec {
    std::string name;            // "train_step": <model>_train_step, <model>_train_step_raw
    std::string summary;         // one line, for the header and the dump
    std::vector<Role> inputs;    // the Halide arguments, in order
    std::vector<Role> outputs;   // the output buffers, in order (Params and OptState in place)
    std::vector<Role> c_params;  // the plain C API's parameters, in order
    bool in_object = true;       // false: JIT only
    std::vector<std::string> composed_of;  // non-empty: no pipeline of its own, these in turn

    bool has_input(Role r) const;
    bool has_output(Role r) const;
    /// Has a Halide pipeline of its own (not composed of others).
    bool lowered() const { return composed_of.empty(); }
};

struct ProgramOptions {
    Strategy strategy = Strategy::Netc;
    bool embedded_weights = false;  // adds predict_embedded
};

struct Program {
    std::string model;
    Graph train_graph;       // the forward graph with its backward graph derived (when trainable)
    bool trainable = false;  // every op has a backward rule
    std::vector<PipelineSpec> pipelines;

    /// The pipeline called `name`, or null.
    const PipelineSpec *find(const std::string &name) const;
};

/// Builds the program of a checked forward graph: derives the backward graph when every op has
/// a backward rule, and lists the pipelines the model has under `options`.
Program build_program(const Graph &forward, const ProgramOptions &options);

/// A readable, stable dump for `netc --emit=program` and the golden tests: each pipeline with
/// its arguments, outputs and C signature.
std::string dump(const Program &program, const ParamLayout &layout);

}  // namespace netc
