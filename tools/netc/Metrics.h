#pragma once
// Reads the metrics.jsonl that `netc train` appends to (runtime/Trainer.cpp writes it), for
// `netc plot`. Two kinds of line, one JSON object each:
//   every log interval  {"step", "epoch", "loss", "accuracy", "lr", "img_per_s"}
//   at each epoch's end {"step", "epoch", "loss", "accuracy", "val_accuracy",
//                        "best_val_accuracy", "img_per_s"}
// told apart by "val_accuracy". The end of an epoch writes both kinds at the same step.

#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::cli {

/// One log interval: the mean loss of its steps, the accuracy of the batches sampled in it and
/// the learning rate of its last step. A value is NaN where the line has null or lacks the key.
struct IntervalMetrics {
    int64_t step = 0;   // steps taken when the line was written
    int64_t epoch = 0;  // 1-based; 0 when the line lacks it
    double loss = 0, accuracy = 0, lr = 0;
};

/// The end of one epoch: the epoch's mean training loss and sampled accuracy, and the accuracy on
/// the held-out validation split (NaN without one).
struct EpochMetrics {
    int64_t step = 0;
    int64_t epoch = 0;
    double loss = 0, accuracy = 0, val_accuracy = 0;
};

struct Metrics {
    std::vector<IntervalMetrics> intervals;  // (one per step) sorted by step
    std::vector<EpochMetrics> epochs;        // (one per step) sorted by step
    std::vector<std::string> warnings;       // ready to print: `path:LINE: warning: ...`
};

/// Reads `path`. Of the lines of one kind for one step (the steps after a checkpoint can be in
/// the file twice, in a run continued with --resume), the last one wins. Blank lines are skipped,
/// and so is a last line cut short (no newline, not JSON: a run still writing), with a warning;
/// anything else that is not such a line is an error. The message of a failure is ready to print:
/// one `path:LINE: error: ...` line per bad line (the first 10), or `path: error: ...` for the
/// file.
runtime::Result<Metrics> read_metrics(const std::string &path);

}  // namespace netc::cli
