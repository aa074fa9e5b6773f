#pragma once
// Training checkpoints as safetensors files (runtime/Safetensors.h):
//
//   <name>                      F32 <shape>   every arena tensor by its torch name and shape, so
//                                             torch's load_state_dict takes them as they are
//   optimizer.<slot>.<name>     F32 <shape>   optimizer state ("optimizer.exp_avg.fc1.weight")
//   __metadata__                format ("netc-checkpoint"), format_version ("1"), model,
//                               optimizer, class_names (a JSON array), normalization_mean,
//                               normalization_std (runtime/Batcher.h format_floats), step, epoch,
//                               best_accuracy, best_epoch, stale_epochs, seed, and what decided
//                               the run's course (RunShape): epochs, steps_per_epoch,
//                               total_steps, batch, samples, validation_samples, data_fingerprint,
//                               and, where the caller said them, data_source and data_limit
//
// `step` is the number of training steps taken (the next step to run); `epoch` the epoch that
// step belongs to. The writer is atomic, so an existing checkpoint is never half-overwritten.
// Checkpoints written before the RunShape keys existed still load (their RunShape is empty).

#include "runtime/Batcher.h"
#include "runtime/Safetensors.h"
#include "runtime/Status.h"
#include "runtime/TrainableModel.h"

#include <cstdint>
#include <map>
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

/// What decided a run's course besides its model and seed, so that --resume can refuse to continue
/// it differently: the length its schedules were set for (set_total_steps) and the data it trains
/// on. Zero and empty where a checkpoint does not record them.
struct RunShape {
    int64_t epochs = 0;              // the epochs the run was started for
    int64_t steps_per_epoch = 0;     // batches per epoch
    int64_t total_steps = 0;         // epochs x steps_per_epoch: the schedules' length
    int64_t batch = 0;               // samples per step
    int64_t samples = 0;             // the training data (after --limit), validation included
    int64_t validation_samples = 0;  // held out of them
    std::string data_fingerprint;    // 16 hex digits: a hash of the images and labels, in order
    std::string data_source;         // where the data came from (netc train --data), "" unknown
    int64_t data_limit = 0;          // the first N samples of it were used (--limit); 0: all

    /// False for checkpoints written before these were recorded.
    bool recorded() const { return epochs > 0; }
};

struct Checkpoint {
    /// A weights file without netc's metadata, as a PyTorch state_dict saved with safetensors
    /// is: its class names are "0", "1", ..., its model is fed unnormalized pixels in [0, 1]
    /// (mean 0, std 1) and its progress is zero.
    bool foreign = false;
    std::string model;
    std::vector<std::string> class_names;
    Normalization normalization;
    TrainingProgress progress;
    uint64_t seed = 0;
    RunShape run;
    std::vector<float> params;     // (param_count), padding zero
    std::vector<float> opt_state;  // (opt_state_count), empty unless asked for
};

/// What every netc checkpoint says of the model it holds (a kNN model's too, runtime/Knn.h).
struct CheckpointIdentity {
    std::string model;
    std::vector<std::string> class_names;
    Normalization normalization;
};

/// Checks that `file` is a netc checkpoint of a version this netc reads.
Status check_format(const SafetensorsFile &file);
/// Its identity, checked against `info`: the model's name, as many class names as it has
/// classes, a normalization per input channel with std > 0.
Result<CheckpointIdentity> read_identity(const SafetensorsFile &file, const ModelInfo &info);
/// The metadata read_identity() reads, with the format and version.
std::map<std::string, std::string> identity_metadata(const ModelInfo &info,
                                                     const std::vector<std::string> &class_names,
                                                     const Normalization &normalization);

/// Writes a checkpoint of `model` atomically. `opt_state` may be null (then no optimizer.*
/// tensors are written: a weights-only file, as `best.safetensors` is). A `run` that is not
/// recorded() adds no RunShape keys.
Status save_checkpoint(const std::string &path, const TrainableModel &model, const float *params,
                       const float *opt_state, const std::vector<std::string> &class_names,
                       const Normalization &normalization, const TrainingProgress &progress,
                       uint64_t seed, const RunShape &run = {});

/// The RunShape recorded in the checkpoint at `path` (not recorded() for an older one), without
/// checking it against a model: what `netc train --resume` needs to load the run's data.
Result<RunShape> read_run_shape(const std::string &path);

/// The tensors a PyTorch state_dict of the model holds beside netc's, which readers ignore: each
/// batchnorm's int64 counter `<layer>.num_batches_tracked`, one per tensor named
/// `<layer>.running_mean` in `names`.
std::vector<std::string> torch_only_tensors(const std::vector<std::string> &names);

/// Reads a checkpoint for `model`: its tensors must be exactly the model's (every difference is
/// named, runtime/Safetensors.h check_tensors), its metadata complete, and every tensor finite
/// (a NaN or an infinity is refused, naming the tensor and its first bad index, unless
/// `allow_nonfinite`). With `with_optimizer`, the optimizer state must be there too and is
/// returned. A file with no `format` in its metadata is read as a foreign state_dict
/// (Checkpoint::foreign; torch_only_tensors ignored), except with `with_optimizer`: it cannot
/// resume a run.
Result<Checkpoint> load_checkpoint(const std::string &path, const TrainableModel &model,
                                   bool with_optimizer, bool allow_nonfinite = false);

}  // namespace netc::runtime
