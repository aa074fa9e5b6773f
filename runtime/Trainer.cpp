#include "runtime/Trainer.h"

#include "runtime/Batcher.h"
#include "runtime/Files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>

namespace netc::runtime {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t interrupted = 0;
void (*previous_handler)(int) = SIG_DFL;

void on_sigint(int) {
    interrupted = 1;
    // A second Ctrl-C while the loop finishes its step and saves kills as usual.
    std::signal(SIGINT, SIG_DFL);
}

/// Creates `dir` and proves that a file can be created in it, before any work is done.
Status check_writable_dir(const std::string &dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::error(dir + ": cannot create the output directory: " + ec.message());
    if (!fs::is_directory(dir)) return Status::error(dir + ": exists and is not a directory");
    std::string probe = (fs::path(dir) / ".netc-write-test-XXXXXX").string();
    int fd = ::mkstemp(probe.data());
    if (fd < 0) {
        return Status::error(dir +
                             ": the output directory cannot be written: " + std::strerror(errno));
    }
    ::close(fd);
    ::unlink(probe.c_str());
    return {};
}

/// An exclusive lock (flock) on the output directory while a run uses it, so that a second run
/// into the same directory is refused rather than interleaving its files with the first's. The
/// kernel drops the lock when the process ends, however it ends.
class DirectoryLock {
public:
    DirectoryLock() = default;
    DirectoryLock(const DirectoryLock &) = delete;
    DirectoryLock &operator=(const DirectoryLock &) = delete;
    ~DirectoryLock() {
        if (fd_ >= 0) ::close(fd_);
    }

    Status acquire(const std::string &dir) {
        fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_ < 0)
            return Status::error(dir +
                                 ": cannot open the output directory: " + std::strerror(errno));
        if (::flock(fd_, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
            // A file system without locks (some network ones) trains unguarded, as it did.
            return {};
        }
        return Status::error(dir + ": another netc train is running in this output directory; "
                                   "wait for it to end or choose another --out (nothing was "
                                   "changed)");
    }

private:
    int fd_ = -1;
};

/// Removes what a run killed mid-write leaves behind in its output directory: the temporary
/// files of the atomic writer (runtime/Files.h names them "<file>.tmp.XXXXXX") for the run's
/// own files, and the probe of check_writable_dir. Called under the directory lock, so no live
/// run is writing them. Returns how many went.
int remove_stale_temporaries(const std::string &dir) {
    static const std::string patterns[] = {"last.safetensors.tmp.", "best.safetensors.tmp.",
                                           "metrics.jsonl.tmp.", ".netc-write-test-"};
    std::vector<fs::path> stale;
    std::error_code ec;
    for (const fs::directory_entry &entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        for (const std::string &prefix : patterns) {
            if (name.size() == prefix.size() + 6 && name.compare(0, prefix.size(), prefix) == 0) {
                stale.push_back(entry.path());
            }
        }
    }
    int removed = 0;
    for (const fs::path &path : stale) removed += fs::remove(path, ec) ? 1 : 0;
    return removed;
}

/// Keeps the lines of the metrics file `path` up to `step`, the checkpoint a run continues from:
/// the lines a stopped run wrote after that checkpoint go (the continuing run writes them again,
/// so the file reads as one run), and so does a last line a kill cut short. Lines are in step
/// order, so everything from the first line past `step` on goes; nothing at or before it does.
/// The file is rewritten atomically, and only when something goes. Returns the lines dropped.
Result<int64_t> trim_metrics(const std::string &path, int64_t step) {
    if (!fs::exists(path)) return (int64_t)0;
    Result<std::vector<uint8_t>> bytes = read_file(path);
    if (!bytes) return bytes.status();
    const std::string text(bytes->begin(), bytes->end());
    std::string kept;
    int64_t dropped = 0;
    bool past = false;
    for (size_t begin = 0; begin < text.size();) {
        size_t end = text.find('\n', begin);
        const bool complete = end != std::string::npos;
        if (!complete) end = text.size();
        const std::string line = text.substr(begin, end - begin);
        begin = end + 1;
        nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
        const bool has_step =
            json.is_object() && json.contains("step") && json["step"].is_number_integer();
        if (has_step && json["step"].get<int64_t>() > step) past = true;
        if (!past && (complete || has_step)) {
            kept += line + "\n";
        } else {
            dropped++;
        }
    }
    if (kept == text) return (int64_t)0;
    Status s =
        write_file_atomically(path, [&](const ByteSink &sink) { sink(kept.data(), kept.size()); });
    if (!s) return s;
    return dropped;
}

/// 16 hex digits that change with any image or label of `data`, or their order: a 64-bit hash
/// (not a cryptographic one) that tells a resume on other data from one on the run's own.
std::string data_fingerprint(const Dataset &data) {
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)data.count;
    auto mix_bytes = [&h](const void *bytes, size_t size) {
        const unsigned char *p = (const unsigned char *)bytes;
        for (; size > 0; p += std::min<size_t>(size, 8), size -= std::min<size_t>(size, 8)) {
            uint64_t word = 0;
            std::memcpy(&word, p, std::min<size_t>(size, 8));
            h = (h ^ word) * 0x9e3779b97f4a7c15ull;
            h ^= h >> 29;
        }
    };
    mix_bytes(data.images.data(), data.images.size() * sizeof(float));
    mix_bytes(data.labels.data(), data.labels.size() * sizeof(data.labels[0]));
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
    return buf;
}

/// Why continuing the run of checkpoint `path`, which recorded `was`, as `now` would not continue
/// that run exactly, with what to do instead; empty when it would.
std::string run_difference(const std::string &path, const RunShape &was, const RunShape &now) {
    const std::string unchanged = " (nothing was changed)";
    auto n = [](int64_t x) { return std::to_string(x); };
    if (was.samples != now.samples) {
        return path + ": the run was started on " + n(was.samples) +
               " training samples, these data have " + n(now.samples) +
               ": resume with the run's --data and --limit" + unchanged;
    }
    if (was.data_fingerprint != now.data_fingerprint) {
        return path +
               ": the training data differ from the run's (as many samples, other images "
               "or labels): resume with the run's --data and --limit" +
               unchanged;
    }
    if (was.batch != now.batch) {
        return path + ": the run was started with batch " + n(was.batch) + ", not " + n(now.batch) +
               ": resume with the train block the run was started with" + unchanged;
    }
    if (was.validation_samples != now.validation_samples) {
        return path + ": the run held out " + n(was.validation_samples) +
               " samples for validation, now " + n(now.validation_samples) +
               " would be: resume with the train block's validation the run was started with" +
               unchanged;
    }
    if (was.epochs != now.epochs) {
        return path + ": the run was started for " + n(was.epochs) + " epochs (" +
               n(was.total_steps) + " steps, the length its learning-rate schedule follows), but " +
               n(now.epochs) + " were asked for (--epochs): resume with --epochs " + n(was.epochs) +
               " or without --epochs; to train for " + n(now.epochs) +
               " epochs, start a new run in another --out directory" + unchanged;
    }
    if (was.steps_per_epoch != now.steps_per_epoch || was.total_steps != now.total_steps) {
        return path + ": the run takes " + n(was.steps_per_epoch) + " steps per epoch and " +
               n(was.total_steps) + " in all, but would now take " + n(now.steps_per_epoch) +
               " and " + n(now.total_steps) + ": resume with the run's data and train block" +
               unchanged;
    }
    return "";
}

/// The error of --resume where there is no checkpoint, saying what to do instead.
std::string no_checkpoint(const std::string &dir, const std::string &last_path) {
    if (!fs::is_directory(dir)) {
        return dir + ": no such directory, so no run to resume: name the run's directory with "
                     "--out, or start a new run without --resume";
    }
    if (fs::exists(fs::path(dir) / "metrics.jsonl")) {
        return last_path + ": no checkpoint to resume from: the run in " + dir +
               " stopped before it saved one (at the end of its first epoch); start it again "
               "without --resume";
    }
    return last_path + ": no checkpoint to resume from: name the run's directory with --out, or "
                       "start a new run without --resume";
}

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
    long s = std::lround(seconds);
    char buf[32];
    if (s >= 3600) {
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    }
    return buf;
}

std::string json_number(double x) {
    if (!std::isfinite(x)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", x);
    return buf;
}

/// The index of the first NaN or infinity of `values`, or -1.
int64_t first_nonfinite(const std::vector<float> &values) {
    for (size_t i = 0; i < values.size(); i++) {
        if (!std::isfinite(values[i])) return (int64_t)i;
    }
    return -1;
}

bool same_floats(const std::vector<float> &a, const std::vector<float> &b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/// The running figures of the current epoch, for the progress line and the metrics.
struct Running {
    double loss_sum = 0;
    int64_t loss_count = 0;
    int64_t correct = 0, sampled = 0;
    double seconds = 0;  // in steps
    int64_t images = 0;

    double loss() const { return loss_count ? loss_sum / (double)loss_count : 0; }
    double accuracy() const { return sampled ? (double)correct / (double)sampled : 0; }
    double rate() const { return seconds > 0 ? (double)images / seconds : 0; }
};

int64_t count_correct(const std::vector<float> &probs, const int32_t *labels, int64_t count,
                      int classes, std::vector<int32_t> *predicted = nullptr) {
    int64_t correct = 0;
    for (int64_t i = 0; i < count; i++) {
        const float *p = probs.data() + i * classes;
        int32_t best = (int32_t)(std::max_element(p, p + classes) - p);
        if (predicted) predicted->push_back(best);
        correct += best == labels[i];
    }
    return correct;
}

/// --resume: loads the run's checkpoint into `params`, `opt_state` and `progress` after checking
/// that continuing it as `config` says (its seed, epochs, data and batch, in `run`) continues the
/// same run. Sets the run's epochs (`run.epochs`) to the checkpoint's unless --epochs was given.
Status restore_run(TrainableModel &model, const TrainConfig &config, const std::string &last_path,
                   const Normalization &norm, int64_t per_epoch, RunShape &run,
                   std::vector<float> &params, std::vector<float> &opt_state,
                   TrainingProgress &progress) {
    std::ostream *out = config.progress;
    Result<Checkpoint> ckpt = load_checkpoint(last_path, model, true);
    if (!ckpt) return ckpt.status();
    if (ckpt->seed != config.seed) {
        return Status::error(last_path + ": the run was started with seed " +
                             std::to_string(ckpt->seed) + ", not " + std::to_string(config.seed) +
                             " (nothing was changed)");
    }
    if (ckpt->run.recorded()) {
        if (!config.epochs_asked) run.epochs = ckpt->run.epochs;
        run.total_steps = run.epochs * per_epoch;
        std::string difference = run_difference(last_path, ckpt->run, run);
        if (!difference.empty()) return Status::error(difference);
    } else if (out) {
        *out << "note: " << last_path
             << " does not record the epochs its run was started with (an older netc wrote "
                "it); continuing for "
             << run.epochs
             << " epochs: if the run was started with others, its learning-rate schedule "
                "now differs\n";
    }
    // Checkpoints without a RunShape are checked against other data this way only.
    if (!same_floats(ckpt->normalization.mean, norm.mean) ||
        !same_floats(ckpt->normalization.stddev, norm.stddev)) {
        return Status::error(last_path +
                             ": the training data differ from the run's (its normalization "
                             "differs): resume with the run's --data and --limit (nothing was "
                             "changed)");
    }
    params = std::move(ckpt->params);
    opt_state = std::move(ckpt->opt_state);
    progress = ckpt->progress;
    return {};
}

/// Removes what a killed run left in the output directory: its temporary files, and the lines of
/// metrics.jsonl past `step`, the checkpoint this run starts from (all of them when it saved
/// none, as a fresh run in its directory finds). Says so on the progress stream.
Status clean_up_killed_run(const TrainConfig &config, const std::string &metrics_path,
                           int64_t step) {
    std::ostream *out = config.progress;
    int stale = remove_stale_temporaries(config.out_dir);
    Result<int64_t> dropped = trim_metrics(metrics_path, step);
    if (!dropped) return dropped.status();
    if (out && stale > 0) {
        *out << "note: removed " << stale << " temporary file" << (stale == 1 ? "" : "s")
             << " left in " << config.out_dir << " by a run that was killed while writing\n";
    }
    if (out && *dropped > 0) {
        *out << "note: dropped " << *dropped << " line" << (*dropped == 1 ? "" : "s") << " of "
             << metrics_path << " written after step " << step
             << " by a run that stopped before its next checkpoint\n";
    }
    return {};
}

/// A metrics.jsonl line every log_every steps: the interval's figures.
void write_step_line(std::FILE *metrics, int64_t step, int64_t epoch, const Running &interval,
                     double learning_rate) {
    std::fprintf(metrics,
                 "{\"step\": %lld, \"epoch\": %lld, \"loss\": %s, \"accuracy\": %s, "
                 "\"lr\": %s, \"img_per_s\": %s}\n",
                 (long long)step, (long long)epoch, json_number(interval.loss()).c_str(),
                 interval.sampled ? json_number(interval.accuracy()).c_str() : "null",
                 json_number(learning_rate).c_str(), json_number(interval.rate()).c_str());
    std::fflush(metrics);
}

/// The metrics.jsonl line of an epoch's end: its figures and the validation accuracy (`val`, -1
/// without validation).
void write_epoch_line(std::FILE *metrics, const TrainingProgress &progress, int64_t epoch,
                      const Running &running, double val) {
    std::fprintf(metrics,
                 "{\"step\": %lld, \"epoch\": %lld, \"loss\": %s, \"accuracy\": %s, "
                 "\"val_accuracy\": %s, \"best_val_accuracy\": %s, \"img_per_s\": %s}\n",
                 (long long)progress.step, (long long)epoch, json_number(running.loss()).c_str(),
                 running.sampled ? json_number(running.accuracy()).c_str() : "null",
                 val >= 0 ? json_number(val).c_str() : "null",
                 progress.best_accuracy >= 0 ? json_number(progress.best_accuracy).c_str() : "null",
                 json_number(running.rate()).c_str());
    std::fflush(metrics);
}

/// The progress of step `done` of `per_epoch` in `epoch` (0-based): a redrawn bar on a terminal,
/// else a plain line at each quarter of the epoch.
void print_step_progress(std::ostream &out, const TrainConfig &config, int64_t epoch,
                         int64_t epochs, int64_t done, int64_t per_epoch, int64_t steps_left,
                         const Running &running, double learning_rate) {
    double eta =
        running.rate() > 0 ? (double)steps_left * (double)config.batch / running.rate() : 0;
    if (config.progress_bar) {
        const int width = 24;
        int filled = (int)(width * done / per_epoch);
        char line[256];
        std::snprintf(line, sizeof line,
                      "\repoch %lld/%lld [%s%s] %lld/%lld %.0f img/s ETA %s loss %.4f "
                      "acc %.3f lr %.3g ",
                      (long long)(epoch + 1), (long long)epochs, std::string(filled, '#').c_str(),
                      std::string(width - filled, '.').c_str(), (long long)done,
                      (long long)per_epoch, running.rate(), format_duration(eta).c_str(),
                      running.loss(), running.accuracy(), learning_rate);
        out << line << std::flush;
    } else if (done % std::max<int64_t>(1, per_epoch / 4) == 0 && done != per_epoch) {
        char line[256];
        std::snprintf(line, sizeof line,
                      "epoch %lld/%lld step %lld/%lld: loss %.4f acc %.3f, %.0f img/s, "
                      "ETA %s\n",
                      (long long)(epoch + 1), (long long)epochs, (long long)done,
                      (long long)per_epoch, running.loss(), running.accuracy(), running.rate(),
                      format_duration(eta).c_str());
        out << line << std::flush;
    }
}

/// The figures of a step that travel with the gradient arena in its all-reduce, after it.
enum StepExtra {
    ExtraDataLoss,   // data loss x the shard's share of the batch: sums to the batch mean
    ExtraRegLoss,    // likewise the regularization (the same on every rank)
    ExtraCorrect,    // correct predictions of the shard (on batches sampled for accuracy)
    ExtraSampled,    // samples predicted
    ExtraFailed,     // 1 where the shard's gradient failed
    ExtraInterrupt,  // 1 where Ctrl-C arrived: every rank stops after this step
    ExtraCount
};

/// One data-parallel step: the gradient of this rank's shard `b` (`shard` of a global batch of
/// `global` samples) weighted by the shard's share of the batch, summed over the ranks in one
/// all-reduce of `reduced` (the arena, then the StepExtra figures), then the update, which every
/// rank applies to the same arenas with the same sum. `losses` receives the global batch's;
/// `correct` and `sampled` hold this shard's counts and receive the sums; `stop` whether a rank
/// asked to stop; `allreduce_seconds` the all-reduce's time. An error on any rank is an error on
/// every rank, at the same step, with nothing updated.
Status data_parallel_step(TrainableModel &model, Communicator &comm, const Batch &b,
                          const Shard &shard, int64_t global, int64_t step,
                          std::vector<float> &params, std::vector<float> &opt_state,
                          std::vector<float> &reduced, StepLosses &losses, int64_t &correct,
                          int64_t &sampled, bool &stop, double &allreduce_seconds) {
    const int64_t count = model.param_count();
    float *grad = reduced.data();
    float *extra = grad + count;
    Status local;
    if (b.size > 0) {
        local = model.gradient(params.data(), b.images.data(), b.labels.data(), b.size, shard.begin,
                               step, grad, losses);
    }
    // The shard's gradient is of its own mean loss: weighted by its share, the shards sum to the
    // gradient of the global batch's mean (an average for equal shards), and the regularization
    // term, which every shard's gradient holds in full, to itself once.
    const float share = local && b.size > 0 ? (float)b.size / (float)global : 0.0f;
    if (share == 0.0f) {
        std::fill(grad, grad + count, 0.0f);
    } else if (share != 1.0f) {
        for (int64_t i = 0; i < count; i++) grad[i] *= share;
    }
    extra[ExtraDataLoss] = losses.data_loss * share;
    extra[ExtraRegLoss] = losses.regularization * share;
    extra[ExtraCorrect] = (float)correct;
    extra[ExtraSampled] = (float)sampled;
    extra[ExtraFailed] = local ? 0.0f : 1.0f;
    extra[ExtraInterrupt] = interrupt_requested() ? 1.0f : 0.0f;
    const float learning_rate = losses.learning_rate;
    auto t0 = Clock::now();
    Status s = comm.all_reduce_sum(reduced.data(), (int64_t)reduced.size());
    allreduce_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!s) return s;
    if (!local) return local;
    if (extra[ExtraFailed] > 0) {
        return Status::error("step " + std::to_string(step) +
                             ": another process of the run failed (its error is printed above); "
                             "this one stops too");
    }
    losses.data_loss = extra[ExtraDataLoss];
    losses.regularization = extra[ExtraRegLoss];
    losses.learning_rate = b.size > 0 ? learning_rate : 0.0f;
    correct = (int64_t)std::lround(extra[ExtraCorrect]);
    sampled = (int64_t)std::lround(extra[ExtraSampled]);
    stop = extra[ExtraInterrupt] > 0;
    return model.apply_update(params.data(), opt_state.data(), grad, step);
}

}  // namespace

InterruptGuard::InterruptGuard() {
    interrupted = 0;
    previous_handler = std::signal(SIGINT, on_sigint);
}

InterruptGuard::~InterruptGuard() {
    std::signal(SIGINT, previous_handler);
    interrupted = 0;
}

bool interrupt_requested() { return interrupted != 0; }
void request_interrupt() { interrupted = 1; }

Result<Evaluation> evaluate(TrainableModel &model, const float *params, const Dataset &data,
                            const std::vector<int64_t> &indices, const Normalization &norm,
                            int64_t batch, Communicator *comm) {
    PredictBatch predict = [&](const float *images, int64_t n, float *probs) {
        return model.predict(params, images, n, probs);
    };
    return evaluate(predict, model.info().data.classes, data, indices, norm, batch, comm);
}

Result<Evaluation> evaluate(const PredictBatch &predict, int classes, const Dataset &data,
                            const std::vector<int64_t> &indices, const Normalization &norm,
                            int64_t batch, Communicator *comm) {
    Evaluation result;
    if (indices.empty()) return result;
    if (comm && comm->size() <= 1) comm = nullptr;
    const Shard shard = comm ? shard_of((int64_t)indices.size(), comm->rank(), comm->size())
                             : Shard{0, (int64_t)indices.size()};
    int64_t correct = 0;
    Status local;
    if (shard.count > 0) {
        BatcherOptions options;
        options.batch = batch;
        options.shuffle = false;
        options.normalization = norm;
        Batcher batcher(data,
                        std::vector<int64_t>(indices.begin() + shard.begin,
                                             indices.begin() + shard.begin + shard.count),
                        options);
        batcher.start_epoch(0);
        std::vector<float> probs;
        Batch b;
        while (local && batcher.next(b)) {
            probs.resize((size_t)(b.size * classes));
            const auto t0 = Clock::now();
            local = predict(b.images.data(), b.size, probs.data());
            result.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
            if (local)
                correct +=
                    count_correct(probs, b.labels.data(), b.size, classes, &result.predicted);
        }
    }
    if (comm) {
        // Every rank takes part in the sum, a failed one too, so that none waits for it.
        double counts[2] = {(double)correct, local ? 0.0 : 1.0};
        if (Status s = comm->all_reduce_sum(counts, 2); !s) return s;
        if (!local) return local;
        if (counts[1] > 0) {
            return Result<Evaluation>::error(
                "another process of the run failed to evaluate (its error is printed above)");
        }
        correct = (int64_t)std::llround(counts[0]);
    }
    if (!local) return local;
    result.accuracy = (double)correct / (double)indices.size();
    return result;
}

Result<TrainReport> train(TrainableModel &model, const Dataset &data, const TrainConfig &config) {
    const ModelInfo &info = model.info();
    const std::string last_path = (fs::path(config.out_dir) / "last.safetensors").string();
    const std::string best_path = (fs::path(config.out_dir) / "best.safetensors").string();
    const std::string metrics_path = (fs::path(config.out_dir) / "metrics.jsonl").string();
    // Data parallelism: rank 0 alone writes and prints; every rank takes its shard of a batch.
    Communicator *comm = config.comm && config.comm->size() > 1 ? config.comm : nullptr;
    const int rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
    const bool writer = rank == 0;
    std::ostream *out = writer ? config.progress : nullptr;
    if (config.batch % ranks != 0) {
        return Result<TrainReport>::error(
            "the batch " + std::to_string(config.batch) + " cannot be split evenly over " +
            std::to_string(ranks) + " processes: the global batch must be a multiple of the " +
            "number of processes (change the train block's batch or mpirun's -np)");
    }
    DirectoryLock lock;
    auto open_directory = [&]() -> Status {
        // Checked before the directory is created, so that a mistyped --out is not left behind.
        if (config.resume && !fs::exists(last_path)) {
            return Status::error(no_checkpoint(config.out_dir, last_path));
        }
        if (Status s = check_writable_dir(config.out_dir); !s) return s;
        if (Status s = lock.acquire(config.out_dir); !s) return s;
        if (!config.resume && fs::exists(last_path)) {
            return Status::error(
                last_path + ": a checkpoint is already there; pass --resume to continue that run, "
                            "or choose another output directory (nothing was overwritten)");
        }
        return {};
    };
    if (Status s = agree(comm, writer ? open_directory() : Status(), "while starting"); !s)
        return s;

    Result<ValidationSplit> split = split_validation(data.count, config.validation, config.seed);
    if (!split) return split.status();
    if (split->train.empty()) return Result<TrainReport>::error("no training samples left");
    Normalization norm = compute_normalization(data, split->train);
    Result<std::vector<AugmentStep>> pipeline = make_augment_pipeline(config.augment);
    if (!pipeline) return pipeline.status();

    BatcherOptions options;
    options.batch = config.batch;
    options.shuffle = true;
    options.seed = config.seed;
    options.normalization = norm;
    options.augment = *pipeline;
    Batcher batcher(data, split->train, options);
    const int64_t per_epoch = batcher.batches_per_epoch();
    RunShape run;
    run.epochs = config.epochs;
    run.steps_per_epoch = per_epoch;
    run.batch = config.batch;
    run.samples = data.count;
    run.validation_samples = (int64_t)split->validation.size();
    run.data_fingerprint = data_fingerprint(data);
    run.data_source = config.data_source;
    run.data_limit = config.data_limit;

    std::vector<float> params((size_t)model.param_count(), 0.0f);
    std::vector<float> opt_state((size_t)model.opt_state_count(), 0.0f);
    TrainingProgress progress;
    if (config.resume) {
        // Rank 0 reads the checkpoint (the only rank that needs to see the output directory)
        // and sends what it holds to the others.
        Status restored = writer ? restore_run(model, config, last_path, norm, per_epoch, run,
                                               params, opt_state, progress)
                                 : Status();
        if (Status s = agree(comm, restored, "while resuming"); !s) return s;
    } else {
        model.init(config.seed, params.data());
    }
    if (comm) {
        double shape[6] = {(double)run.epochs,          (double)progress.step,
                           (double)progress.epoch,      progress.best_accuracy,
                           (double)progress.best_epoch, (double)progress.stale_epochs};
        for (Status s :
             {comm->broadcast(shape, sizeof shape, 0),
              comm->broadcast(params.data(), (int64_t)(params.size() * sizeof(float)), 0),
              comm->broadcast(opt_state.data(), (int64_t)(opt_state.size() * sizeof(float)), 0)}) {
            if (!s) return s;
        }
        run.epochs = (int64_t)shape[0];
        progress.step = (int64_t)shape[1];
        progress.epoch = (int64_t)shape[2];
        progress.best_accuracy = shape[3];
        progress.best_epoch = (int64_t)shape[4];
        progress.stale_epochs = (int64_t)shape[5];
    }
    const int64_t epochs = run.epochs;
    run.total_steps = epochs * per_epoch;
    const int64_t total_steps = run.total_steps;
    model.set_total_steps(total_steps);
    bool have_checkpoint = config.resume;
    int64_t checkpoint_step = progress.step;

    std::FILE *metrics = nullptr;
    auto open_metrics = [&]() -> Status {
        if (Status s = clean_up_killed_run(config, metrics_path, progress.step); !s) return s;
        metrics = std::fopen(metrics_path.c_str(), "a");
        if (!metrics) {
            return Status::error(metrics_path +
                                 ": cannot open for appending: " + std::strerror(errno));
        }
        return {};
    };
    Status opened = writer ? open_metrics() : Status();
    struct Closer {
        std::FILE *f;
        ~Closer() {
            if (f) std::fclose(f);
        }
    } closer{metrics};
    if (Status s = agree(comm, opened, "while starting"); !s) return s;

    // Training never writes a non-finite checkpoint: an update can overflow the weights while
    // the loss it was computed from is still finite.
    auto finite_state = [&]() -> Status {
        for (const std::vector<float> *arena : {&params, &opt_state}) {
            if (int64_t bad = first_nonfinite(*arena); bad >= 0) {
                return Status::error(
                    "training diverged: the " +
                    std::string(arena == &params ? "parameters" : "optimizer state") +
                    " hold a non-finite value (element " + std::to_string(bad) +
                    " of the arena) after step " + std::to_string(progress.step) + "; stopped, " +
                    (have_checkpoint
                         ? last_path + " holds step " + std::to_string(checkpoint_step) +
                               ", the last good checkpoint"
                         : "no checkpoint had been written yet") +
                    " (try a lower learning rate)");
            }
        }
        return {};
    };
    // Writes last.safetensors once per step: a --steps or Ctrl-C stop right after an epoch's
    // end finds that step's checkpoint written already (and on a nearly full disk, a second
    // write could fail although the first succeeded). A failed write says what was kept.
    auto save_last = [&]() -> Status {
        if (have_checkpoint && checkpoint_step == progress.step) return {};
        if (Status finite = finite_state(); !finite) return finite;
        Status s = save_checkpoint(last_path, model, params.data(), opt_state.data(),
                                   data.class_names, norm, progress, config.seed, run);
        if (!s) {
            return Status::error(s.message() + "; " +
                                 (have_checkpoint ? last_path + " still holds step " +
                                                        std::to_string(checkpoint_step) +
                                                        ", the last checkpoint written"
                                                  : "no checkpoint of this run was kept"));
        }
        have_checkpoint = true;
        checkpoint_step = progress.step;
        return s;
    };

    TrainReport report;
    report.ranks = ranks;
    const int classes = info.data.classes;
    const int64_t start_step = progress.step;
    double run_seconds = 0, allreduce_seconds = 0;
    int64_t run_images = 0;
    bool first_logged = false;
    std::vector<float> probs;
    Batch b;
    // Data parallel: the gradient arena, then the StepExtra figures, summed in one all-reduce.
    std::vector<float> reduced(comm ? (size_t)(model.param_count() + ExtraCount) : 0);
    bool stop_agreed = false;  // a rank asked to stop (Ctrl-C) in the last step's all-reduce
    auto finish_report = [&]() {
        report.progress = progress;
        report.steps_taken = progress.step - start_step;
        report.img_per_s = run_seconds > 0 ? (double)run_images / run_seconds : 0;
        report.step_seconds = run_seconds;
        report.allreduce_seconds = allreduce_seconds;
    };

    // A run that stopped early stays stopped: resuming it trains no further, as the run that
    // never stopped would not have.
    if (config.patience > 0 && progress.stale_epochs >= config.patience) {
        if (out) {
            *out << "the run stopped early at epoch " << progress.epoch
                 << " (no improvement of validation accuracy for " << config.patience
                 << " epochs); nothing to continue\n";
        }
        report.outcome = TrainOutcome::EarlyStopped;
        report.progress = progress;
        report.steps_taken = progress.step - start_step;
        return report;
    }
    for (int64_t epoch = progress.step / per_epoch; epoch < epochs; epoch++) {
        batcher.start_epoch(epoch);
        Running running, interval;
        for (int64_t index = progress.step - epoch * per_epoch; index < per_epoch; index++) {
            const bool stop = comm ? stop_agreed : interrupt_requested();
            if (stop || (config.max_steps > 0 && progress.step >= config.max_steps)) {
                if (out && config.progress_bar) *out << "\n";
                report.outcome = stop ? TrainOutcome::Interrupted : TrainOutcome::StepLimit;
                progress.epoch = epoch;
                Status saved = agree(comm, writer ? save_last() : Status(),
                                     "at step " + std::to_string(progress.step));
                if (!saved) return saved;
                finish_report();
                return report;
            }
            // One process: the whole batch. Data parallel: this rank's shard of it.
            const int64_t global = batcher.batch_size(index);
            const Shard shard = comm ? shard_of(global, rank, ranks) : Shard{0, global};
            batcher.get(index, shard.begin, shard.count, b);
            const bool sample_accuracy =
                config.accuracy_every > 0 && index % config.accuracy_every == 0;
            int64_t correct = 0, sampled = 0;
            if (sample_accuracy && b.size > 0) {
                probs.resize((size_t)(b.size * classes));
                Status s = model.predict(params.data(), b.images.data(), b.size, probs.data());
                if (!s) return s;
                correct = count_correct(probs, b.labels.data(), b.size, classes);
                sampled = b.size;
            }
            auto t0 = Clock::now();
            StepLosses losses;
            double step_allreduce = 0;
            if (!comm) {
                Status s = model.train_step(params.data(), opt_state.data(), b.images.data(),
                                            b.labels.data(), b.size, progress.step, losses);
                if (!s) return s;
            } else {
                Status s = data_parallel_step(model, *comm, b, shard, global, progress.step, params,
                                              opt_state, reduced, losses, correct, sampled,
                                              stop_agreed, step_allreduce);
                if (!s) return s;
            }
            double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
            if (sample_accuracy) {
                running.correct += correct;
                running.sampled += sampled;
                interval.correct += correct;
                interval.sampled += sampled;
            }
            double loss = (double)losses.data_loss + (double)losses.regularization;
            if (!std::isfinite(loss)) {
                if (out && config.progress_bar) *out << "\n";
                std::string kept = have_checkpoint ? last_path + " holds step " +
                                                         std::to_string(checkpoint_step) +
                                                         ", the last good checkpoint"
                                                   : "no checkpoint had been written yet";
                return Result<TrainReport>::error(
                    "training diverged: the loss is " +
                    std::string(std::isnan(loss) ? "nan" : "inf") + " at step " +
                    std::to_string(progress.step) + " (epoch " + std::to_string(epoch + 1) +
                    "); stopped, " + kept + " (try a lower learning rate)");
            }
            progress.step++;
            // The run's first step includes the JIT compilation: it is left out of the rates.
            if (progress.step == start_step + 1) seconds = step_allreduce = 0;
            for (Running *r : {&running, &interval}) {
                r->loss_sum += loss;
                r->loss_count++;
                r->seconds += seconds;
                r->images += seconds > 0 ? global : 0;
            }
            run_seconds += seconds;
            allreduce_seconds += step_allreduce;
            run_images += seconds > 0 ? global : 0;

            if (progress.step % config.log_every == 0 || index + 1 == per_epoch) {
                if (!first_logged) {
                    report.first_loss = interval.loss();
                    first_logged = true;
                }
                if (metrics) {
                    write_step_line(metrics, progress.step, epoch + 1, interval,
                                    losses.learning_rate);
                }
                interval = Running();
            }
            if (out) {
                print_step_progress(*out, config, epoch, epochs, index + 1, per_epoch,
                                    total_steps - progress.step, running, losses.learning_rate);
            }
        }

        // The end of an epoch: validation, the best checkpoint, the last one, early stopping.
        progress.epoch = epoch + 1;
        report.last_loss = running.loss();
        double val = -1;
        if (!split->validation.empty()) {
            Result<Evaluation> e =
                evaluate(model, params.data(), data, split->validation, norm, config.batch, comm);
            if (!e) return e.status();
            val = e->accuracy;
        }
        report.last_val_accuracy = val;
        bool improved = false;
        if (val >= 0) {
            improved = val > progress.best_accuracy + config.min_delta || progress.best_epoch < 0;
            if (improved) {
                progress.best_accuracy = val;
                progress.best_epoch = epoch + 1;
                progress.stale_epochs = 0;
            } else {
                progress.stale_epochs++;
            }
        }
        bool stop_early = config.patience > 0 && progress.stale_epochs >= config.patience;
        if (metrics) write_epoch_line(metrics, progress, epoch + 1, running, val);
        // Data parallel: every rank continues from rank 0's arenas, the ones it saves, so that
        // ranks whose all-reduce sums differed in a last bit can never drift apart.
        if (comm) {
            for (std::vector<float> *arena : {&params, &opt_state}) {
                Status s =
                    comm->broadcast(arena->data(), (int64_t)(arena->size() * sizeof(float)), 0);
                if (!s) return s;
            }
        }
        // The epoch's line goes before its checkpoints: a run killed in between leaves the line
        // past the last checkpoint, where the resumed run drops it and writes it again.
        // best.safetensors holds the best epoch's weights (the last ones without validation).
        if (Status finite = finite_state(); !finite) return finite;
        auto save_epoch = [&]() -> Status {
            if (improved || val < 0) {
                Status s = save_checkpoint(best_path, model, params.data(), nullptr,
                                           data.class_names, norm, progress, config.seed, run);
                if (!s) return s;
            }
            return save_last();
        };
        if (Status s = agree(comm, writer ? save_epoch() : Status(),
                             "at the end of epoch " + std::to_string(epoch + 1));
            !s)
            return s;
        if (out) {
            char line[256];
            std::snprintf(
                line, sizeof line,
                "%sepoch %lld/%lld: loss %.4f, train acc %.3f, val acc %s, %.0f img/s%s\n",
                config.progress_bar ? "\n" : "", (long long)(epoch + 1), (long long)epochs,
                running.loss(), running.accuracy(), val >= 0 ? json_number(val).c_str() : "-",
                running.rate(), improved && val >= 0 ? " (best)" : "");
            *out << line << std::flush;
        }
        if (stop_early) {
            if (out) {
                *out << "early stopping: no improvement of validation accuracy for "
                     << config.patience << " epochs (best " << progress.best_accuracy
                     << " at epoch " << progress.best_epoch << ")\n";
            }
            report.outcome = TrainOutcome::EarlyStopped;
            break;
        }
    }
    finish_report();
    return report;
}

}  // namespace netc::runtime
