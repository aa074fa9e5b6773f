#pragma once
// The training loop: drives any TrainableModel (runtime/TrainableModel.h), JIT or AOT, over a
// data set. Per epoch it batches the training split (a validation split held out by fraction,
// normalization computed from the training split, the order a function of (seed, epoch) and the
// augmentation of (seed, step): runtime/Batcher.h), takes one step per batch, measures accuracy
// on the held-out split, keeps the best checkpoint by that accuracy and stops early when asked.
//
// Files in `out_dir`:
//   last.safetensors   after every epoch, on Ctrl-C and at --steps: parameters, optimizer state,
//                      progress and what decided the run's course (runtime/Checkpoint.h
//                      RunShape); --resume continues from it exactly, and refuses to continue it
//                      with other epochs, data or batch
//   best.safetensors   the parameters of the best validation accuracy so far
//   metrics.jsonl      appended JSON lines: {"step", "epoch", "loss", "accuracy", "lr",
//                      "img_per_s"} every log_every steps, {"step", "epoch", "val_accuracy", ...}
//                      after every epoch; a run (resumed or fresh) first drops the lines past the
//                      step it starts from, which a run that stopped wrote after its checkpoint
//
// One run at a time uses a directory (a lock held while it runs). A run killed at any point
// loses only the steps since its last checkpoint: files are replaced atomically, and the
// temporary files of a write the kill cut short are removed by the next run in the directory.
//
// A NaN or infinite loss, or parameters or optimizer state an update left non-finite, stop the
// run with an error naming the step; last.safetensors and best.safetensors are left as they were
// (the last good checkpoints): no checkpoint with a NaN or an infinity is ever written. SIGINT
// (install_interrupt_handler) ends the run after the current step with a checkpoint saved.

#include "runtime/Augment.h"
#include "runtime/Checkpoint.h"
#include "runtime/Dataset.h"
#include "runtime/Status.h"
#include "runtime/TrainableModel.h"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace netc::runtime {

struct TrainConfig {
    int64_t batch = 64;
    int64_t epochs = 10;
    bool epochs_asked = true;  // false: --resume runs for the epochs the checkpoint's run
                               // was started for (`epochs` only for older checkpoints)
    uint64_t seed = 0;
    double validation = 0.1;           // fraction of the training data held out
    std::vector<AugmentSpec> augment;  // the model's augment list
    int64_t patience = 0;              // early stopping: epochs without improvement; 0 = never
    double min_delta = 0;              // the smallest improvement that counts
    std::string out_dir = "runs";
    std::string data_source;      // recorded in checkpoints (--data), so --resume can reload it
    int64_t data_limit = 0;       // likewise the --limit the data were cut to; 0: none
    bool resume = false;          // continue from out_dir/last.safetensors
    int64_t max_steps = 0;        // stop (with a checkpoint) once this many steps are taken
    int64_t log_every = 50;       // steps between metrics lines
    int64_t accuracy_every = 10;  // running training accuracy is sampled on 1 batch in this many
    bool progress_bar = false;    // a redrawn bar (a terminal) rather than plain lines
    std::ostream *progress = nullptr;  // where progress goes; null for none
};

enum class TrainOutcome { Finished, EarlyStopped, Interrupted, StepLimit };

struct TrainReport {
    TrainOutcome outcome = TrainOutcome::Finished;
    TrainingProgress progress;      // where the run stands at the end
    int64_t steps_taken = 0;        // by this call (0 when a resumed run had already ended)
    double last_val_accuracy = -1;  // of the last epoch run (-1: no validation)
    double img_per_s = 0;           // training throughput over the run: steps only, the first
                                    // (which may JIT-compile) left out
    double first_loss = 0;          // mean loss of the first logged interval of this run
    double last_loss = 0;           // mean loss of the last epoch run
};

/// Trains `model` on `data` (already checked against the model) as `config` says. Errors: an
/// output directory that cannot be written or that another run is using (found before training
/// starts), --resume without a checkpoint or with one of another model or run (other seed,
/// epochs, data or batch: nothing is changed on disk then), a checkpoint in the way of a fresh
/// run, a NaN loss, a failed step.
Result<TrainReport> train(TrainableModel &model, const Dataset &data, const TrainConfig &config);

/// Routes SIGINT to the training loop (the run stops after its current step and saves a
/// checkpoint) until the returned guard is destroyed, which restores the previous handler. A
/// second Ctrl-C while stopping kills the process as usual.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard &) = delete;
    InterruptGuard &operator=(const InterruptGuard &) = delete;
};

/// True once SIGINT arrived under an InterruptGuard (for tests: request_interrupt() sets it).
bool interrupt_requested();
void request_interrupt();

/// The accuracy of `model` on `indices` of `data`, normalized with `norm`, and the predicted
/// class of every sample (in the order of indices). For validation and `netc eval`.
struct Evaluation {
    double accuracy = 0;
    std::vector<int32_t> predicted;
};
Result<Evaluation> evaluate(TrainableModel &model, const float *params, const Dataset &data,
                            const std::vector<int64_t> &indices, const Normalization &norm,
                            int64_t batch);

}  // namespace netc::runtime
