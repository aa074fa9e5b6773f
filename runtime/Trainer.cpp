#include "runtime/Trainer.h"

#include "runtime/Batcher.h"
#include "runtime/RunDirectory.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>

namespace netc::runtime {

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t interrupted = 0;
void (*previous_handler)(int) = SIG_DFL;

void on_sigint(int) {
    interrupted = 1;
    // A second Ctrl-C while the loop finishes its step and saves kills as usual.
    std::signal(SIGINT, SIG_DFL);
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

namespace {

/// One call of train(), its stages as methods in the order run() takes them: the output
/// directory opened (RunDirectory), the data prepared (split, normalization, batcher), the
/// start (the checkpoint of --resume, or init), the metrics file opened, then per epoch its
/// steps and its end (validation, the checkpoints, early stopping), and the report.
class TrainingRun {
public:
    TrainingRun(TrainableModel &model, const Dataset &data, const TrainConfig &config);
    ~TrainingRun() {
        if (metrics_) std::fclose(metrics_);
    }
    TrainingRun(const TrainingRun &) = delete;
    TrainingRun &operator=(const TrainingRun &) = delete;

    Result<TrainReport> run();

private:
    enum class Next { Continue, Stop };

    Status prepare_data();
    Status start();
    Status open_metrics();
    bool stopped_early_before();
    Result<Next> train_epoch(int64_t epoch);
    Status stop_at_step(int64_t epoch, bool interrupted);
    Status step(int64_t epoch, int64_t index, Running &running, Running &interval);
    Result<Next> end_epoch(int64_t epoch, const Running &running);
    Status finite_state() const;
    std::string last_good_checkpoint() const;
    Status save_last();
    void print_epoch_line(int64_t epoch, const Running &running, double val, bool improved);
    TrainReport finish();

    TrainableModel &model_;
    const Dataset &data_;
    const TrainConfig &config_;
    // Data parallelism: rank 0 alone writes and prints; every rank takes its shard of a batch.
    Communicator *comm_;
    int rank_, ranks_;
    bool writer_;
    std::ostream *out_;
    RunDirectory dir_;

    ValidationSplit split_;
    Normalization norm_;
    std::optional<Batcher> batcher_;
    int64_t per_epoch_ = 0;
    RunShape run_;
    int64_t epochs_ = 0, total_steps_ = 0;

    std::vector<float> params_, opt_state_;
    TrainingProgress progress_;
    bool have_checkpoint_ = false;  // last.safetensors holds step checkpoint_step_
    int64_t checkpoint_step_ = 0;
    std::FILE *metrics_ = nullptr;  // rank 0's metrics.jsonl

    TrainReport report_;
    int64_t start_step_ = 0;
    double run_seconds_ = 0, allreduce_seconds_ = 0;
    int64_t run_images_ = 0;
    bool first_logged_ = false;
    std::vector<float> probs_;
    Batch batch_;
    // Data parallel: the gradient arena, then the StepExtra figures, summed in one all-reduce.
    std::vector<float> reduced_;
    bool stop_agreed_ = false;  // a rank asked to stop (Ctrl-C) in the last step's all-reduce
};

TrainingRun::TrainingRun(TrainableModel &model, const Dataset &data, const TrainConfig &config)
    : model_(model), data_(data), config_(config),
      comm_(config.comm && config.comm->size() > 1 ? config.comm : nullptr),
      rank_(comm_ ? comm_->rank() : 0), ranks_(comm_ ? comm_->size() : 1), writer_(rank_ == 0),
      out_(writer_ ? config.progress : nullptr), dir_(config.out_dir) {}

Result<TrainReport> TrainingRun::run() {
    if (config_.batch % ranks_ != 0) {
        return Result<TrainReport>::error(
            "the batch " + std::to_string(config_.batch) + " cannot be split evenly over " +
            std::to_string(ranks_) + " processes: the global batch must be a multiple of the " +
            "number of processes (change the train block's batch or mpirun's -np)");
    }
    if (Status s = agree(comm_, writer_ ? dir_.open(config_.resume) : Status(), "while starting");
        !s)
        return s;
    if (Status s = prepare_data(); !s) return s;
    if (Status s = start(); !s) return s;
    if (Status s = agree(comm_, writer_ ? open_metrics() : Status(), "while starting"); !s)
        return s;
    if (stopped_early_before()) return finish();
    for (int64_t epoch = progress_.step / per_epoch_; epoch < epochs_; epoch++) {
        Result<Next> next = train_epoch(epoch);
        if (!next) return next.status();
        if (*next == Next::Stop) break;
    }
    return finish();
}

/// The validation split, the normalization of the training split, the augmentation, the
/// batcher, and the shape of the run they make (RunShape, with the epochs asked for).
Status TrainingRun::prepare_data() {
    Result<ValidationSplit> split = split_validation(data_.count, config_.validation, config_.seed);
    if (!split) return split.status();
    if (split->train.empty()) return Status::error("no training samples left");
    split_ = std::move(*split);
    norm_ = compute_normalization(data_, split_.train);
    Result<std::vector<AugmentStep>> pipeline = make_augment_pipeline(config_.augment);
    if (!pipeline) return pipeline.status();

    BatcherOptions options;
    options.batch = config_.batch;
    options.shuffle = true;
    options.seed = config_.seed;
    options.normalization = norm_;
    options.augment = *pipeline;
    batcher_.emplace(data_, split_.train, options);
    per_epoch_ = batcher_->batches_per_epoch();
    run_.epochs = config_.epochs;
    run_.steps_per_epoch = per_epoch_;
    run_.batch = config_.batch;
    run_.samples = data_.count;
    run_.validation_samples = (int64_t)split_.validation.size();
    run_.data_fingerprint = data_fingerprint(data_);
    run_.data_source = config_.data_source;
    run_.data_limit = config_.data_limit;
    return {};
}

/// The arenas and the progress the run starts from: the checkpoint of --resume, or the model's
/// init; in a data-parallel run rank 0's, sent to every rank. Then the run's length.
Status TrainingRun::start() {
    params_.assign((size_t)model_.param_count(), 0.0f);
    opt_state_.assign((size_t)model_.opt_state_count(), 0.0f);
    if (config_.resume) {
        // Rank 0 reads the checkpoint (the only rank that needs to see the output directory)
        // and sends what it holds to the others.
        Status restored = writer_ ? restore_run(model_, config_, dir_.last_path(), norm_,
                                                per_epoch_, run_, params_, opt_state_, progress_)
                                  : Status();
        if (Status s = agree(comm_, restored, "while resuming"); !s) return s;
    } else {
        model_.init(config_.seed, params_.data());
    }
    if (comm_) {
        double shape[6] = {(double)run_.epochs,          (double)progress_.step,
                           (double)progress_.epoch,      progress_.best_accuracy,
                           (double)progress_.best_epoch, (double)progress_.stale_epochs};
        for (Status s :
             {comm_->broadcast(shape, sizeof shape, 0),
              comm_->broadcast(params_.data(), (int64_t)(params_.size() * sizeof(float)), 0),
              comm_->broadcast(opt_state_.data(), (int64_t)(opt_state_.size() * sizeof(float)),
                               0)}) {
            if (!s) return s;
        }
        run_.epochs = (int64_t)shape[0];
        progress_.step = (int64_t)shape[1];
        progress_.epoch = (int64_t)shape[2];
        progress_.best_accuracy = shape[3];
        progress_.best_epoch = (int64_t)shape[4];
        progress_.stale_epochs = (int64_t)shape[5];
    }
    epochs_ = run_.epochs;
    run_.total_steps = epochs_ * per_epoch_;
    total_steps_ = run_.total_steps;
    model_.set_total_steps(total_steps_);
    have_checkpoint_ = config_.resume;
    checkpoint_step_ = progress_.step;

    report_.ranks = ranks_;
    start_step_ = progress_.step;
    reduced_.resize(comm_ ? (size_t)(model_.param_count() + ExtraCount) : 0);
    return {};
}

/// Rank 0: what a killed run left in the directory removed, metrics.jsonl opened to append.
Status TrainingRun::open_metrics() {
    if (Status s = dir_.clean_up_killed_run(progress_.step, config_.progress); !s) return s;
    metrics_ = std::fopen(dir_.metrics_path().c_str(), "a");
    if (!metrics_) {
        return Status::error(dir_.metrics_path() +
                             ": cannot open for appending: " + std::strerror(errno));
    }
    return {};
}

/// A run that stopped early stays stopped: resuming it trains no further, as the run that never
/// stopped would not have.
bool TrainingRun::stopped_early_before() {
    if (config_.patience <= 0 || progress_.stale_epochs < config_.patience) return false;
    if (out_) {
        *out_ << "the run stopped early at epoch " << progress_.epoch
              << " (no improvement of validation accuracy for " << config_.patience
              << " epochs); nothing to continue\n";
    }
    report_.outcome = TrainOutcome::EarlyStopped;
    return true;
}

/// The rest of epoch `epoch` (all of it, but for the epoch a resumed run continues), then its
/// end. Stop: Ctrl-C or --steps stopped the run in it, or early stopping at its end.
Result<TrainingRun::Next> TrainingRun::train_epoch(int64_t epoch) {
    batcher_->start_epoch(epoch);
    Running running, interval;
    for (int64_t index = progress_.step - epoch * per_epoch_; index < per_epoch_; index++) {
        const bool interrupted = comm_ ? stop_agreed_ : interrupt_requested();
        if (interrupted || (config_.max_steps > 0 && progress_.step >= config_.max_steps)) {
            if (Status s = stop_at_step(epoch, interrupted); !s) return s;
            return Next::Stop;
        }
        if (Status s = step(epoch, index, running, interval); !s) return s;
    }
    return end_epoch(epoch, running);
}

/// Ctrl-C (`interrupted`) or --steps before the next step of `epoch`: last.safetensors saved.
Status TrainingRun::stop_at_step(int64_t epoch, bool interrupted) {
    if (out_ && config_.progress_bar) *out_ << "\n";
    report_.outcome = interrupted ? TrainOutcome::Interrupted : TrainOutcome::StepLimit;
    progress_.epoch = epoch;
    return agree(comm_, writer_ ? save_last() : Status(),
                 "at step " + std::to_string(progress_.step));
}

/// Step `index` of `epoch`: its batch (this rank's shard of it), the training accuracy where it
/// is sampled, the train step (data parallel: gradient, all-reduce, update), the figures of
/// `running` (the epoch's) and `interval` (since the last metrics line), the metrics line and
/// the progress.
Status TrainingRun::step(int64_t epoch, int64_t index, Running &running, Running &interval) {
    // One process: the whole batch. Data parallel: this rank's shard of it.
    const int64_t global = batcher_->batch_size(index);
    const Shard shard = comm_ ? shard_of(global, rank_, ranks_) : Shard{0, global};
    Batch &b = batch_;
    batcher_->get(index, shard.begin, shard.count, b);
    const int classes = model_.info().data.classes;
    const bool sample_accuracy = config_.accuracy_every > 0 && index % config_.accuracy_every == 0;
    int64_t correct = 0, sampled = 0;
    if (sample_accuracy && b.size > 0) {
        probs_.resize((size_t)(b.size * classes));
        Status s = model_.predict(params_.data(), b.images.data(), b.size, probs_.data());
        if (!s) return s;
        correct = count_correct(probs_, b.labels.data(), b.size, classes);
        sampled = b.size;
    }
    auto t0 = Clock::now();
    StepLosses losses;
    double step_allreduce = 0;
    if (!comm_) {
        Status s = model_.train_step(params_.data(), opt_state_.data(), b.images.data(),
                                     b.labels.data(), b.size, progress_.step, losses);
        if (!s) return s;
    } else {
        Status s = data_parallel_step(model_, *comm_, b, shard, global, progress_.step, params_,
                                      opt_state_, reduced_, losses, correct, sampled, stop_agreed_,
                                      step_allreduce);
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
        if (out_ && config_.progress_bar) *out_ << "\n";
        return Status::error(
            "training diverged: the loss is " + std::string(std::isnan(loss) ? "nan" : "inf") +
            " at step " + std::to_string(progress_.step) + " (epoch " + std::to_string(epoch + 1) +
            "); stopped, " + last_good_checkpoint() + " (try a lower learning rate)");
    }
    progress_.step++;
    // The run's first step includes the JIT compilation: it is left out of the rates.
    if (progress_.step == start_step_ + 1) seconds = step_allreduce = 0;
    for (Running *r : {&running, &interval}) {
        r->loss_sum += loss;
        r->loss_count++;
        r->seconds += seconds;
        r->images += seconds > 0 ? global : 0;
    }
    run_seconds_ += seconds;
    allreduce_seconds_ += step_allreduce;
    run_images_ += seconds > 0 ? global : 0;

    if (progress_.step % config_.log_every == 0 || index + 1 == per_epoch_) {
        if (!first_logged_) {
            report_.first_loss = interval.loss();
            first_logged_ = true;
        }
        if (metrics_) {
            write_step_line(metrics_, progress_.step, epoch + 1, interval, losses.learning_rate);
        }
        interval = Running();
    }
    if (out_) {
        print_step_progress(*out_, config_, epoch, epochs_, index + 1, per_epoch_,
                            total_steps_ - progress_.step, running, losses.learning_rate);
    }
    return {};
}

/// The end of epoch `epoch`: validation, the best checkpoint, the last one, early stopping.
Result<TrainingRun::Next> TrainingRun::end_epoch(int64_t epoch, const Running &running) {
    progress_.epoch = epoch + 1;
    report_.last_loss = running.loss();
    double val = -1;
    if (!split_.validation.empty()) {
        Result<Evaluation> e =
            evaluate(model_, params_.data(), data_, split_.validation, norm_, config_.batch, comm_);
        if (!e) return e.status();
        val = e->accuracy;
    }
    report_.last_val_accuracy = val;
    bool improved = false;
    if (val >= 0) {
        improved = val > progress_.best_accuracy + config_.min_delta || progress_.best_epoch < 0;
        if (improved) {
            progress_.best_accuracy = val;
            progress_.best_epoch = epoch + 1;
            progress_.stale_epochs = 0;
        } else {
            progress_.stale_epochs++;
        }
    }
    bool stop_early = config_.patience > 0 && progress_.stale_epochs >= config_.patience;
    if (metrics_) write_epoch_line(metrics_, progress_, epoch + 1, running, val);
    // Data parallel: every rank continues from rank 0's arenas, the ones it saves, so that
    // ranks whose all-reduce sums differed in a last bit can never drift apart.
    if (comm_) {
        for (std::vector<float> *arena : {&params_, &opt_state_}) {
            Status s = comm_->broadcast(arena->data(), (int64_t)(arena->size() * sizeof(float)), 0);
            if (!s) return s;
        }
    }
    // The epoch's line goes before its checkpoints: a run killed in between leaves the line
    // past the last checkpoint, where the resumed run drops it and writes it again.
    // best.safetensors holds the best epoch's weights (the last ones without validation).
    if (Status finite = finite_state(); !finite) return finite;
    auto save_epoch = [&]() -> Status {
        if (improved || val < 0) {
            Status s = save_checkpoint(dir_.best_path(), model_, params_.data(), nullptr,
                                       data_.class_names, norm_, progress_, config_.seed, run_);
            if (!s) return s;
        }
        return save_last();
    };
    if (Status s = agree(comm_, writer_ ? save_epoch() : Status(),
                         "at the end of epoch " + std::to_string(epoch + 1));
        !s)
        return s;
    print_epoch_line(epoch, running, val, improved);
    if (!stop_early) return Next::Continue;
    if (out_) {
        *out_ << "early stopping: no improvement of validation accuracy for " << config_.patience
              << " epochs (best " << progress_.best_accuracy << " at epoch " << progress_.best_epoch
              << ")\n";
    }
    report_.outcome = TrainOutcome::EarlyStopped;
    return Next::Stop;
}

/// Training never writes a non-finite checkpoint: an update can overflow the weights while the
/// loss it was computed from is still finite.
Status TrainingRun::finite_state() const {
    for (const std::vector<float> *arena : {&params_, &opt_state_}) {
        if (int64_t bad = first_nonfinite(*arena); bad >= 0) {
            return Status::error("training diverged: the " +
                                 std::string(arena == &params_ ? "parameters" : "optimizer state") +
                                 " hold a non-finite value (element " + std::to_string(bad) +
                                 " of the arena) after step " + std::to_string(progress_.step) +
                                 "; stopped, " + last_good_checkpoint() +
                                 " (try a lower learning rate)");
        }
    }
    return {};
}

/// What a run that diverged leaves, for its error.
std::string TrainingRun::last_good_checkpoint() const {
    return have_checkpoint_ ? dir_.last_path() + " holds step " + std::to_string(checkpoint_step_) +
                                  ", the last good checkpoint"
                            : "no checkpoint had been written yet";
}

/// Writes last.safetensors once per step: a --steps or Ctrl-C stop right after an epoch's end
/// finds that step's checkpoint written already (and on a nearly full disk, a second write could
/// fail although the first succeeded). A failed write says what was kept.
Status TrainingRun::save_last() {
    if (have_checkpoint_ && checkpoint_step_ == progress_.step) return {};
    if (Status finite = finite_state(); !finite) return finite;
    Status s = save_checkpoint(dir_.last_path(), model_, params_.data(), opt_state_.data(),
                               data_.class_names, norm_, progress_, config_.seed, run_);
    if (!s) {
        return Status::error(s.message() + "; " +
                             (have_checkpoint_ ? dir_.last_path() + " still holds step " +
                                                     std::to_string(checkpoint_step_) +
                                                     ", the last checkpoint written"
                                               : "no checkpoint of this run was kept"));
    }
    have_checkpoint_ = true;
    checkpoint_step_ = progress_.step;
    return s;
}

/// The progress stream's line of an epoch's end.
void TrainingRun::print_epoch_line(int64_t epoch, const Running &running, double val,
                                   bool improved) {
    if (!out_) return;
    char line[256];
    std::snprintf(line, sizeof line,
                  "%sepoch %lld/%lld: loss %.4f, train acc %.3f, val acc %s, %.0f img/s%s\n",
                  config_.progress_bar ? "\n" : "", (long long)(epoch + 1), (long long)epochs_,
                  running.loss(), running.accuracy(), val >= 0 ? json_number(val).c_str() : "-",
                  running.rate(), improved && val >= 0 ? " (best)" : "");
    *out_ << line << std::flush;
}

TrainReport TrainingRun::finish() {
    report_.progress = progress_;
    report_.steps_taken = progress_.step - start_step_;
    report_.img_per_s = run_seconds_ > 0 ? (double)run_images_ / run_seconds_ : 0;
    report_.step_seconds = run_seconds_;
    report_.allreduce_seconds = allreduce_seconds_;
    return report_;
}

}  // namespace

TrainConfig train_config(const TrainBlock &block) {
    TrainConfig c;
    c.batch = block.batch;
    c.epochs = block.epochs;
    c.seed = block.seed;
    c.validation = block.validation;
    c.augment = block.augment;
    c.patience = block.patience;
    c.min_delta = block.min_delta;
    return c;
}

Result<TrainReport> train(TrainableModel &model, const Dataset &data, const TrainConfig &config) {
    TrainingRun run(model, data, config);
    return run.run();
}

}  // namespace netc::runtime
