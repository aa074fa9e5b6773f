#pragma once
// The output directory of a training run (runtime/Trainer.h lists its files): opening it for a
// run (created, proved writable, locked against a second run, checked for a checkpoint where
// --resume needs one and where a fresh run must not find one), the clean-up after a run that was
// killed in it, and why a --resume would not continue the run of its checkpoint exactly. The
// training loop's own; in a data-parallel run rank 0 alone calls these.

#include "runtime/Checkpoint.h"
#include "runtime/Dataset.h"
#include "runtime/Status.h"

#include <cstdint>
#include <ostream>
#include <string>

namespace netc::runtime {

/// One run's output directory, locked (flock) from open() until destroyed, so that a second run
/// into the same directory is refused rather than interleaving its files with the first's. The
/// kernel drops the lock when the process ends, however it ends.
class RunDirectory {
public:
    explicit RunDirectory(const std::string &dir);
    ~RunDirectory();
    RunDirectory(const RunDirectory &) = delete;
    RunDirectory &operator=(const RunDirectory &) = delete;

    const std::string &dir() const { return dir_; }
    const std::string &last_path() const { return last_path_; }        // last.safetensors
    const std::string &best_path() const { return best_path_; }        // best.safetensors
    const std::string &metrics_path() const { return metrics_path_; }  // metrics.jsonl

    /// Makes the directory ready for a run before any work is done: with `resume`, a checkpoint
    /// must be there (checked before the directory is created, so that a mistyped --out is not
    /// left behind); the directory is created and proved writable, then locked; without
    /// `resume`, a checkpoint in it is refused. Nothing is changed on disk when this fails.
    Status open(bool resume);

    /// Removes what a killed run left in the directory: the temporary files of its interrupted
    /// writes, and the lines of metrics.jsonl past `step`, the checkpoint this run starts from
    /// (all of them when it saved none, as a fresh run in its directory finds). Says so on `out`
    /// where not null. Called after open(), under the lock, so no live run is writing them.
    Status clean_up_killed_run(int64_t step, std::ostream *out);

private:
    Status lock();

    std::string dir_, last_path_, best_path_, metrics_path_;
    int lock_fd_ = -1;
};

/// 16 hex digits that change with any image or label of `data`, or their order: a 64-bit hash
/// (not a cryptographic one) that tells a resume on other data from one on the run's own.
std::string data_fingerprint(const Dataset &data);

/// Why continuing the run of checkpoint `path`, which recorded `was`, as `now` would not continue
/// that run exactly, with what to do instead; empty when it would.
std::string run_difference(const std::string &path, const RunShape &was, const RunShape &now);

}  // namespace netc::runtime
