#pragma once
// Training checkpoints as safetensors files (runtime/Safetensors.h):
//
//   <name>                      F32 <shape>   every arena tensor by its torch name and shape, so
//                                             torch's load_state_dict takes them as they are
//   optimizer.<slot>.<name>     F32 <shape>   optimizer state ("optimizer.exp_avg.fc1.weight")
//   __metadata__                format ("netc-checkpoint"), format_version ("1"), model,
//                               optimizer, class_names (a JSON array), normalization_mean,
//                               normalization_std (runtime/Batcher.h format_floats), step, epoch,
//                               best_accuracy, best_epoch, stale_epochs, seed
//
// `step` is the number of training steps taken (the next step to run); `epoch` the epoch that
// step belongs to. The writer is atomic, so an existing checkpoint is never half-overwritten.

#include "runtime/Batcher.h"
#include "runtime/Status.h"
#include "runtime/TrainableModel.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

/// Where a run stands, saved with it so that --resume continues exactly.
struct TrainingProgress {
    int64_t step = 0;           // steps taken
    int64_t epoch = 0;          // the epoch of the next step
    double best_accuracy = -1;  // best validation accuracy so far (-1: none yet)
    int64_t best_epoch = -1;    // the epoch that reached it
    int64_t stale_epochs = 0;   // epochs since it last improved (early stopping)
};

struct Checkpoint {
    std::string model;
    std::vector<std::string> class_names;
    Normalization normalization;
    TrainingProgress progress;
    uint64_t seed = 0;
    std::vector<float> params;    // (param_count), padding zero
    std::vector<float> opt_state; // (opt_state_count), empty unless asked for
};

/// Writes a checkpoint of `model` atomically. `opt_state` may be null (then no optimizer.*
/// tensors are written: a weights-only file, as `best.safetensors` is).
Status save_checkpoint(const std::string &path, const TrainableModel &model, const float *params,
                       const float *opt_state, const std::vector<std::string> &class_names,
                       const Normalization &normalization, const TrainingProgress &progress,
                       uint64_t seed);

/// Reads a checkpoint for `model`: its tensors must be exactly the model's (every difference is
/// named, runtime/Safetensors.h check_tensors), its metadata complete. With `with_optimizer`,
/// the optimizer state must be there too and is returned.
Result<Checkpoint> load_checkpoint(const std::string &path, const TrainableModel &model,
                                   bool with_optimizer);

} // namespace netc::runtime
