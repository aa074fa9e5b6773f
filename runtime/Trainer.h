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
//
// Data parallelism (TrainConfig::comm, runtime/Communicator.h): N processes train one model.
// Every rank batches the same global order (the same seed), takes its contiguous shard of each
// global batch (runtime/Communicator.h shard_of; augmentation and dropout keyed by the global
// sample index, so the draws do not depend on N), computes the gradient of its shard, and one
// all-reduce per step sums the shards' gradients weighted by their share of the batch (their
// average for equal shards: the gradient of the global batch-mean loss; the regularization,
// which every rank adds in full, counts once) together with the losses, accuracy counts and
// stop requests; every rank then applies the same update. Batchnorm normalizes each shard by
// its own statistics (per rank, as PyTorch's DistributedDataParallel does without SyncBatchNorm);
// the running statistics average the shards'. Validation accuracy is counted over the shards
// and summed. Rank 0 alone touches the output directory (lock, checkpoints, metrics) and
// prints progress; it reads the checkpoint of --resume and broadcasts it, and broadcasts the
// parameters at every epoch's end, so the ranks can never drift apart. An error on any rank
// (a bad label in its shard, a failed write on rank 0) ends every rank at the same step.

#include "runtime/Augment.h"
#include "runtime/Checkpoint.h"
#include "runtime/Communicator.h"
#include "runtime/Dataset.h"
#include "runtime/Status.h"
#include "runtime/TrainableModel.h"

#include <cstdint>
#include <functional>
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
    Communicator *comm = nullptr;      // the ranks of a data-parallel run; null (or one rank):
                                       // one process. `batch` is the global batch: a multiple
                                       // of comm->size()
};

/// A model's train block as the runtime reads it: from the graph for the JIT
/// (tools/netc/JitTrainable.h), from an object's netc_model for AOT (runtime/AotModel.h).
struct TrainBlock {
    int64_t batch = 64;
    int64_t epochs = 10;
    uint64_t seed = 0;
    double validation = 0.1;
    std::vector<AugmentSpec> augment;
    int64_t patience = 0;  // early stopping; 0: off
    double min_delta = 0;
};

/// The TrainConfig of a train block, before the caller sets the output directory and what its
/// command line says: the one place the JIT and AOT paths make theirs, so they train alike.
TrainConfig train_config(const TrainBlock &block);

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
    int ranks = 1;                  // processes that trained
    double step_seconds = 0;        // in steps (the first left out), all-reduce included
    double allreduce_seconds = 0;   // of which in the gradient all-reduce
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
/// class of every sample (in the order of indices). For validation and `netc eval`. With a
/// communicator of several ranks (every rank calls it alike), each rank predicts its shard of
/// `indices` and the correct predictions are summed: every rank gets the accuracy over all of
/// them, and `predicted` holds its own shard's (from shard_of(indices.size(), rank, size)).
struct Evaluation {
    double accuracy = 0;
    std::vector<int32_t> predicted;
    double seconds = 0;  // in the model's predictions alone (not batching the data)
};
Result<Evaluation> evaluate(TrainableModel &model, const float *params, const Dataset &data,
                            const std::vector<int64_t> &indices, const Normalization &norm,
                            int64_t batch, Communicator *comm = nullptr);

/// Predictions of one batch: images (batch, C, H, W), normalized -> probs (batch, classes).
using PredictBatch = std::function<Status(const float *images, int64_t batch, float *probs)>;
/// The same for any model that predicts: a kNN model's classify (runtime/Knn.h).
Result<Evaluation> evaluate(const PredictBatch &predict, int classes, const Dataset &data,
                            const std::vector<int64_t> &indices, const Normalization &norm,
                            int64_t batch, Communicator *comm = nullptr);

}  // namespace netc::runtime
