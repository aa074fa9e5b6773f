#include "tools/netc/TrainCommands.h"

#include "compiler/Footprint.h"
#include "compiler/Frontend.h"
#include "compiler/Schedule.h"
#include "runtime/Batcher.h"
#include "runtime/Checkpoint.h"
#include "runtime/Communicator.h"
#include "runtime/Dataset.h"
#include "runtime/Knn.h"
#include "runtime/Memory.h"
#include "runtime/Trainer.h"
#include "tools/netc/JitTrainable.h"

#ifdef NETC_HAVE_MPI
#include "runtime/MpiCommunicator.h"
#endif

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <unistd.h>

namespace netc::cli {

namespace {

struct Model {
    Frontend front;
    std::unique_ptr<JitTrainable> jit;  // a trained model
    std::unique_ptr<JitNeighbors> knn;  // or a kNN model
    const runtime::ModelInfo &info() const { return knn ? knn->info() : jit->info(); }
};

/// Loads and checks `path` (its diagnostics printed) and makes its JIT model; null on a user
/// error.
std::unique_ptr<Model> load_jit_model(const std::string &path, const std::string &schedule) {
    std::optional<Frontend> front = load_model(path);
    if (!front) return nullptr;
    auto m = std::make_unique<Model>();
    m->front = std::move(*front);
    const Strategy strategy = *parse_strategy(schedule);  // checked by CLI11
    if (m->front.graph->is_knn()) {
        m->knn = std::make_unique<JitNeighbors>(*m->front.graph, m->front.layout, strategy);
    } else {
        m->jit = std::make_unique<JitTrainable>(*m->front.graph, m->front.layout, strategy);
    }
    return m;
}

/// A model's checkpoint, ready to predict with: its weights (or a kNN model's stored training
/// set) and the normalization its images get.
struct Predictor {
    runtime::PredictBatch predict;
    runtime::Normalization normalization;
    std::vector<std::string> class_names;
    bool foreign = false;  // weights from elsewhere (Checkpoint::foreign)
    std::vector<float> params;
    runtime::ReferenceSet reference;
};

runtime::Result<std::unique_ptr<Predictor>> load_predictor(Model &m, const std::string &weights,
                                                           bool allow_nonfinite) {
    auto p = std::make_unique<Predictor>();
    Predictor *at = p.get();  // the lambdas' target: stays where it is when p moves
    if (m.knn) {
        runtime::Result<runtime::KnnCheckpoint> ckpt =
            runtime::load_knn_checkpoint(weights, *m.knn, allow_nonfinite);
        if (!ckpt) return ckpt.status();
        p->normalization = std::move(ckpt->normalization);
        p->class_names = std::move(ckpt->class_names);
        p->reference = std::move(ckpt->reference);
        JitNeighbors *knn = m.knn.get();
        p->predict = [knn, at](const float *images, int64_t batch, float *probs) {
            return knn->classify(at->reference, images, batch, probs);
        };
        return p;
    }
    runtime::Result<runtime::Checkpoint> ckpt =
        runtime::load_checkpoint(weights, *m.jit, false, allow_nonfinite);
    if (!ckpt) return ckpt.status();
    p->normalization = std::move(ckpt->normalization);
    p->class_names = std::move(ckpt->class_names);
    p->foreign = ckpt->foreign;
    p->params = std::move(ckpt->params);
    JitTrainable *jit = m.jit.get();
    p->predict = [jit, at](const float *images, int64_t batch, float *probs) {
        return jit->predict(at->params.data(), images, batch, probs);
    };
    return p;
}

/// The ranks of a data-parallel run when a launcher (mpirun, srun) started this process as one
/// of several; null for a plain `netc train`, which never initializes MPI. An error where this
/// netc was built without MPI: each process would train the whole model alone.
runtime::Result<std::unique_ptr<runtime::Communicator>> join_ranks() {
    using R = runtime::Result<std::unique_ptr<runtime::Communicator>>;
    const int launched = runtime::launched_ranks();
    if (launched <= 1) return std::unique_ptr<runtime::Communicator>();
#ifdef NETC_HAVE_MPI
    // A collective that waits longer than this for the other ranks ends the run.
    double timeout = 300;
    if (const char *t = std::getenv("NETC_MPI_TIMEOUT")) timeout = std::atof(t);
    runtime::Result<std::unique_ptr<runtime::MpiCommunicator>> mpi =
        runtime::MpiCommunicator::init(timeout);
    if (!mpi) return R::error(mpi.message());
    return std::unique_ptr<runtime::Communicator>(std::move(*mpi));
#else
    return R::error("started as one of " + std::to_string(launched) +
                    " processes (mpirun), but this netc was built without MPI: each process "
                    "would train the whole model alone. Install Open MPI (libopenmpi-dev) and "
                    "build netc again, or run netc train without mpirun");
#endif
}

/// Discards what is written to it: the progress of ranks other than 0.
std::ostream &nowhere() {
    static std::ostream sink(nullptr);
    return sink;
}

/// A SIGUSR1 (which mpirun passes on to every rank, unlike Ctrl-C, on which it kills the job)
/// stops a data-parallel run after its current step with a checkpoint, as Ctrl-C does one
/// process.
void on_sigusr1(int) { runtime::request_interrupt(); }

std::string json_string(const std::string &s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if ((unsigned char)c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string fixed(double x, int digits = 4) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, x);
    return buf;
}

bool has_image_extension(const std::string &path) {
    std::string lower = path;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    for (const char *ext : {".png", ".jpg", ".jpeg"}) {
        std::string e = ext;
        if (lower.size() >= e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0) {
            return true;
        }
    }
    return false;
}

}  // namespace

TrainCommands::TrainCommands(CLI::App &app) {
    const std::string data_help =
        std::string("data set folder: Fashion-MNIST/MNIST IDX files, CIFAR-10 batches, or "
                    "train/ and test/ image folders (default ") +
        runtime::fashion_mnist_default_dir + ")";
    data_dir_ = runtime::fashion_mnist_default_dir;

    train_ = app.add_subcommand(
        "train", "train a model on its data set (JIT); writes DIR/last.safetensors, "
                 "DIR/best.safetensors and DIR/metrics.jsonl. Ctrl-C saves a checkpoint and exits "
                 "with status 130");
    train_->add_option("FILE", file_, "model file (.net)")->required();
    train_->add_option("--data", data_dir_, data_help);
    train_
        ->add_option("--epochs", epochs_,
                     "epochs to train (default: the train block's; with --resume, the run's)")
        ->check(CLI::PositiveNumber);
    train_->add_option("--out", out_dir_, "output directory (default: runs/<model>)");
    train_->add_flag("--resume", resume_,
                     "continue the run in the output directory from its last.safetensors, exactly "
                     "as if it had not stopped (with the run's --data, --limit and --epochs)");
    train_->add_option("--limit", limit_, "use only the first N training samples (quick runs, CI)")
        ->check(CLI::PositiveNumber);
    train_
        ->add_option("--steps", steps_,
                     "stop once N steps in all are taken, saving last.safetensors (resume later)")
        ->check(CLI::PositiveNumber);

    eval_ = app.add_subcommand("eval", "test accuracy, per-class accuracy and confusion matrix");
    eval_->add_option("FILE", file_, "model file (.net)")->required();
    eval_->add_option("--weights", weights_, "checkpoint (.safetensors) from netc train")
        ->required();
    eval_->add_option("--data", data_dir_, data_help);
    eval_->add_option("--limit", limit_, "evaluate only the first N test samples")
        ->check(CLI::PositiveNumber);
    eval_->add_flag("--json", json_, "print one JSON object instead of tables");
    eval_->add_flag("--allow-nonfinite", allow_nonfinite_,
                    "load a checkpoint holding NaN or infinite values (refused otherwise)");

    predict_ = app.add_subcommand("predict", "classify images with a trained model");
    predict_->add_option("FILE", file_, "model file (.net)")->required();
    predict_->add_option("--weights", weights_, "checkpoint (.safetensors) from netc train")
        ->required();
    predict_->add_option("INPUT", inputs_, "PNG/JPEG images, or IDX image files (raw or gzip)")
        ->required();
    predict_->add_option("--top", top_, "classes shown per image")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    predict_->add_flag("--json", json_,
                       "print one JSON object with every class's probability for each input");
    predict_->add_flag("--allow-nonfinite", allow_nonfinite_,
                       "load a checkpoint holding NaN or infinite values (refused otherwise)");
    for (CLI::App *command : {train_, eval_, predict_}) {
        command
            ->add_option("--schedule", schedule_,
                         "how every pipeline is scheduled: " + strategy_names())
            ->capture_default_str()
            ->check(CLI::IsMember(strategy_list()));
    }
}

std::optional<int> TrainCommands::run() {
    if (*train_) return run_train();
    if (*eval_) return run_eval();
    if (*predict_) return run_predict();
    return std::nullopt;
}

int TrainCommands::run_train() {
    // Under mpirun: one rank of a data-parallel run. Rank 0 alone prints progress and writes
    // the output directory; every rank that fails prints why, the others then stop with it.
    runtime::Result<std::unique_ptr<runtime::Communicator>> joined = join_ranks();
    if (!joined) return user_error(joined.message());
    runtime::Communicator *comm = joined->get();
    const int rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
    std::ostream &log = rank == 0 ? std::cerr : nowhere();
    auto fail_here = [&](const std::string &message) {
        return user_error(ranks > 1 ? "rank " + std::to_string(rank) + ": " + message : message);
    };
    // Each rank loads the model and the data itself; a rank that cannot (a file missing on its
    // machine) must not leave the others waiting for it.
    auto together = [&](bool ok, const std::string &what) {
        runtime::Status s =
            runtime::agree(comm, ok ? runtime::Status() : runtime::Status::error(what), what);
        return s.ok();
    };
    std::unique_ptr<Model> m = load_jit_model(file_, schedule_);
    if (!together(m != nullptr, "while loading " + file_)) return exit_user_error;
    if (m->knn) {
        if (ranks > 1) {
            if (rank != 0) return exit_user_error;
            return user_error(file_ +
                              ": a kNN model stores its training set once; it is not trained "
                              "by several processes: run netc train without mpirun");
        }
        return run_train_knn(*m->front.graph, *m->knn);
    }
    const Graph &graph = *m->front.graph;
    runtime::TrainConfig config = train_config(graph);
    config.comm = comm;
    if (config.batch % ranks != 0) {
        // Every rank finds the same: rank 0 says so.
        if (rank != 0) return exit_user_error;
        return user_error(file_ + ": the train block's batch " + std::to_string(config.batch) +
                          " cannot be split evenly over " + std::to_string(ranks) +
                          " processes: make the global batch a multiple of mpirun's -np (it is the "
                          "batch of the whole step, each process taking batch / np of it)");
    }
    if (epochs_ > 0) config.epochs = epochs_;
    config.epochs_asked = epochs_ > 0;
    config.out_dir = out_dir_.empty() ? "runs/" + graph.model : out_dir_;
    config.resume = resume_;
    config.max_steps = steps_;
    config.progress = rank == 0 ? &std::cerr : nullptr;
    config.progress_bar = ::isatty(2) != 0;
    if (resume_) {
        // A resume takes the run's own --data and --limit where they are not given (a checkpoint
        // that does not record them leaves the defaults; train() then says what differs).
        runtime::Result<runtime::RunShape> was =
            runtime::read_run_shape(config.out_dir + "/last.safetensors");
        if (was && train_->get_option("--data")->count() == 0 && !was->data_source.empty()) {
            data_dir_ = was->data_source;
        }
        if (was && train_->get_option("--limit")->count() == 0) limit_ = was->data_limit;
    }
    config.data_source = std::filesystem::absolute(data_dir_).string();
    config.data_limit = limit_;
    // Refused before the data is read or anything is compiled: the step's memory, from the graph.
    const TrainFootprint need = train_footprint(graph, m->front.layout, config.batch);
    if (runtime::Status fits = runtime::check_memory(
            file_ + ": training at batch " + std::to_string(config.batch), need.total(),
            runtime::format_bytes(need.arenas) + " of parameters, gradients and optimizer state, " +
                runtime::format_bytes(need.values) + " of forward and backward values",
            "lower the train block's batch");
        !fits) {
        if (rank != 0) return exit_user_error;
        return user_error(fits.message());
    }

    runtime::Result<runtime::Dataset> data =
        runtime::load_dataset(data_dir_, runtime::DataSplit::Train, m->jit->info().data);
    if (!data) fail_here(data.message());
    if (!together(data.ok(), "while reading " + data_dir_)) return exit_user_error;
    for (const std::string &w : data->warnings) log << "netc: warning: " << w << "\n";
    runtime::keep_first(*data, limit_);
    const std::string processes = ranks > 1
                                      ? ", " + std::to_string(ranks) + " processes of " +
                                            std::to_string(config.batch / ranks) + " samples each"
                                      : "";
    if (resume_) {
        // The epochs are the run's own unless --epochs says otherwise (then they must agree).
        log << "resuming " << graph.model << " from " << config.out_dir << "/last.safetensors on "
            << data->count << " samples from " << data_dir_ << " (batch " << config.batch
            << processes << ")\n";
    } else {
        log << "training " << graph.model << " on " << data->count << " samples from " << data_dir_
            << " for " << config.epochs << " epochs (batch " << config.batch << processes
            << "), checkpoints in " << config.out_dir << "\n";
    }

    runtime::InterruptGuard guard;
    if (comm) std::signal(SIGUSR1, on_sigusr1);
    runtime::Result<runtime::TrainReport> report = runtime::train(*m->jit, *data, config);
    if (comm) std::signal(SIGUSR1, SIG_DFL);
    if (!report) return fail_here(report.message());
    if (rank != 0)
        return report->outcome == runtime::TrainOutcome::Interrupted ? exit_interrupted : 0;
    if (ranks > 1 && report->step_seconds > 0) {
        const double steps = (double)std::max<int64_t>(1, report->steps_taken - 1);
        std::cerr << "data parallel: " << ranks << " processes; the gradient all-reduce took "
                  << fixed(100.0 * report->allreduce_seconds / report->step_seconds, 1)
                  << " % of the step time (" << fixed(1e3 * report->allreduce_seconds / steps, 2)
                  << " ms of " << fixed(1e3 * report->step_seconds / steps, 2)
                  << " ms per step, on rank 0)\n";
    }
    const runtime::TrainingProgress &p = report->progress;
    std::string best = p.best_epoch >= 0 ? ", best validation accuracy " + fixed(p.best_accuracy) +
                                               " (epoch " + std::to_string(p.best_epoch) + ")"
                                         : "";
    switch (report->outcome) {
    case runtime::TrainOutcome::Interrupted:
        std::cerr << "interrupted at step " << p.step << "; saved " << config.out_dir
                  << "/last.safetensors (continue with --resume)\n";
        return exit_interrupted;
    case runtime::TrainOutcome::StepLimit:
        std::cerr << "stopped at step " << p.step << " as --steps asked; saved " << config.out_dir
                  << "/last.safetensors (continue with --resume)\n";
        return 0;
    case runtime::TrainOutcome::EarlyStopped:
    case runtime::TrainOutcome::Finished:
        if (report->steps_taken == 0) {
            std::cerr << "nothing to train: the run in " << config.out_dir
                      << " had already ended at "
                      << "step " << p.step << best << "; its files are as they were\n";
            return 0;
        }
        std::cerr << "done: " << p.epoch << " epochs, " << p.step << " steps, "
                  << fixed(report->img_per_s, 0) << " img/s" << best << "; wrote " << config.out_dir
                  << "/{last,best}.safetensors and metrics.jsonl\n";
        return 0;
    }
    return 0;
}

int TrainCommands::run_train_knn(const Graph &graph, runtime::NeighborModel &model) {
    for (const char *option : {"--resume", "--epochs", "--steps"}) {
        if (train_->get_option(option)->count() > 0) {
            return user_error(file_ + ": " + option +
                              " does not apply to a kNN model: its training "
                              "stores the training set's features, once");
        }
    }
    runtime::KnnConfig config = knn_config(graph);
    config.progress = &std::cerr;
    const std::string out_dir = out_dir_.empty() ? "runs/" + graph.model : out_dir_;
    runtime::Result<runtime::Dataset> data =
        runtime::load_dataset(data_dir_, runtime::DataSplit::Train, model.info().data);
    if (!data) return user_error(data.message());
    for (const std::string &w : data->warnings) std::cerr << "netc: warning: " << w << "\n";
    runtime::keep_first(*data, limit_);
    const int64_t bytes = data->count * model.feature_count() * (int64_t)sizeof(float);
    if (runtime::Status fits = runtime::check_memory(
            file_ + ": the features of " + std::to_string(data->count) + " training samples", bytes,
            "", "use fewer samples (--limit) or smaller features");
        !fits) {
        return user_error(fits.message());
    }
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) return user_error(out_dir + ": cannot create the output directory: " + ec.message());
    const Choice &knn = *graph.classifier;
    std::cerr << "fitting " << graph.model << " (k = " << knn.attrs.get_int("k") << ", "
              << knn.attrs.get_enum("distance") << " distance, " << knn.attrs.get_enum("vote")
              << " vote) on " << data->count << " samples from " << data_dir_ << "\n";
    runtime::Result<runtime::KnnFit> fit = runtime::fit_knn(model, *data, config);
    if (!fit) return user_error(file_ + ": " + fit.message());
    const std::string path = out_dir + "/best.safetensors";
    if (runtime::Status s =
            runtime::save_knn_checkpoint(path, model, *fit, data->class_names, config.seed);
        !s) {
        return user_error(s.message());
    }
    std::cerr << "done: stored " << fit->reference.count << " samples";
    if (fit->validation_accuracy >= 0) {
        std::cerr << ", validation accuracy " << fixed(fit->validation_accuracy) << " on "
                  << fit->validation_samples << " samples (classified in "
                  << fixed(fit->validation_seconds, 3) << " s, "
                  << fixed((double)fit->validation_samples /
                               std::max(1e-9, fit->validation_seconds),
                           0)
                  << " img/s)";
    }
    std::cerr << "; wrote " << path << "\n";
    return 0;
}

int TrainCommands::run_eval() {
    std::unique_ptr<Model> m = load_jit_model(file_, schedule_);
    if (!m) return exit_user_error;
    runtime::Result<std::unique_ptr<Predictor>> ckpt =
        load_predictor(*m, weights_, allow_nonfinite_);
    if (!ckpt) return user_error(ckpt.message());
    const Predictor &p = **ckpt;
    runtime::Result<runtime::Dataset> data =
        runtime::load_dataset(data_dir_, runtime::DataSplit::Test, m->info().data);
    if (!data) return user_error(data.message());
    for (const std::string &w : data->warnings) std::cerr << "netc: warning: " << w << "\n";
    runtime::keep_first(*data, limit_);
    runtime::Result<runtime::Evaluation> e = runtime::evaluate(
        p.predict, m->info().data.classes, *data, runtime::all_indices(data->count),
        p.normalization, m->front.graph->train.batch);
    if (!e) return user_error(e.message());

    // Weights from elsewhere name no classes: the data set's names serve.
    const std::vector<std::string> &names =
        p.foreign && data->class_names.size() == p.class_names.size() ? data->class_names
                                                                      : p.class_names;
    size_t k = names.size();
    std::vector<std::vector<int64_t>> confusion(k,
                                                std::vector<int64_t>(k, 0));  // [true][predicted]
    for (int64_t i = 0; i < data->count; i++)
        confusion[(size_t)data->labels[(size_t)i]][(size_t)e->predicted[(size_t)i]]++;
    auto class_accuracy = [&](size_t c) {
        int64_t total = std::accumulate(confusion[c].begin(), confusion[c].end(), (int64_t)0);
        return total ? (double)confusion[c][c] / (double)total : 0.0;
    };

    if (json_) {
        std::string out = "{\"model\": " + json_string(m->front.graph->model) +
                          ", \"weights\": " + json_string(weights_) +
                          ", \"samples\": " + std::to_string(data->count) +
                          ", \"seconds\": " + fixed(e->seconds, 6) +
                          ", \"accuracy\": " + fixed(e->accuracy, 6) + ", \"class_names\": [";
        for (size_t c = 0; c < k; c++) out += (c ? ", " : "") + json_string(names[c]);
        out += "], \"per_class_accuracy\": [";
        for (size_t c = 0; c < k; c++) out += (c ? ", " : "") + fixed(class_accuracy(c), 6);
        out += "], \"confusion\": [";
        for (size_t r = 0; r < k; r++) {
            out += r ? ", [" : "[";
            for (size_t c = 0; c < k; c++) out += (c ? ", " : "") + std::to_string(confusion[r][c]);
            out += "]";
        }
        std::cout << out << "]}\n";
        return 0;
    }
    std::cout << m->front.graph->model << " on " << data->count << " test samples from "
              << data_dir_ << ": accuracy " << fixed(e->accuracy) << " (classified in "
              << fixed(e->seconds, 3) << " s, "
              << fixed(e->seconds > 0 ? (double)data->count / e->seconds : 0.0, 0)
              << " img/s)\n\nper class:\n";
    size_t width = 5;
    for (const std::string &n : names) width = std::max(width, n.size());
    for (size_t c = 0; c < k; c++) {
        std::printf("  %-*s  %s\n", (int)width, names[c].c_str(), fixed(class_accuracy(c)).c_str());
    }
    std::cout << "\nconfusion matrix (rows: true class, columns: predicted):\n";
    std::printf("  %-*s", (int)width, "");
    for (size_t c = 0; c < k; c++) std::printf(" %5zu", c);
    std::printf("\n");
    for (size_t r = 0; r < k; r++) {
        std::printf("  %-*s", (int)width,
                    (std::to_string(r) + " " + names[r]).substr(0, width).c_str());
        for (size_t c = 0; c < k; c++) std::printf(" %5lld", (long long)confusion[r][c]);
        std::printf("\n");
    }
    return 0;
}

int TrainCommands::run_predict() {
    std::unique_ptr<Model> m = load_jit_model(file_, schedule_);
    if (!m) return exit_user_error;
    runtime::Result<std::unique_ptr<Predictor>> loaded =
        load_predictor(*m, weights_, allow_nonfinite_);
    if (!loaded) return user_error(loaded.message());
    const Predictor *ckpt = loaded->get();
    const runtime::DataSpec &spec = m->info().data;
    const int64_t image_size = (int64_t)spec.channels * spec.height * spec.width;

    std::vector<float> images;
    std::vector<std::string> labels;  // what each image is called in the output
    for (const std::string &input : inputs_) {
        if (has_image_extension(input)) {
            runtime::Result<std::vector<float>> image =
                runtime::read_image(input, {spec.channels, spec.height, spec.width});
            if (!image) return user_error(image.message());
            images.insert(images.end(), image->begin(), image->end());
            labels.push_back(input);
            continue;
        }
        runtime::Result<runtime::IdxImages> idx = runtime::read_idx_images(input);
        if (!idx)
            return user_error(idx.message() + " (inputs are PNG/JPEG images or IDX image files)");
        if (spec.channels != 1 || idx->height != spec.height || idx->width != spec.width) {
            return user_error(input + ": images of " + std::to_string(idx->height) + "x" +
                              std::to_string(idx->width) + " pixels, but the model takes " +
                              std::to_string(spec.channels) + "x" + std::to_string(spec.height) +
                              "x" + std::to_string(spec.width));
        }
        for (int64_t i = 0; i < idx->count; i++) {
            for (int64_t j = 0; j < image_size; j++) {
                images.push_back((float)idx->pixels[(size_t)(i * image_size + j)] / 255.0f);
            }
            labels.push_back(input + "[" + std::to_string(i) + "]");
        }
    }
    int64_t count = (int64_t)labels.size();
    runtime::normalize(ckpt->normalization, images.data(), count, spec.channels, spec.height,
                       spec.width);
    const int k = spec.classes;
    std::vector<float> probs((size_t)(count * k));
    const int64_t batch = std::max<int64_t>(1, m->front.graph->train.batch);
    for (int64_t first = 0; first < count; first += batch) {
        int64_t n = std::min(batch, count - first);
        runtime::Status s =
            ckpt->predict(images.data() + first * image_size, n, probs.data() + first * k);
        if (!s) return user_error(s.message());
    }
    if (json_) {
        // Every probability with the 9 significant digits that read back to the same float.
        std::string out = "{\"model\": " + json_string(m->front.graph->model) +
                          ", \"weights\": " + json_string(weights_) + ", \"class_names\": [";
        for (int c = 0; c < k; c++) out += (c ? ", " : "") + json_string(ckpt->class_names[c]);
        out += "], \"predictions\": [";
        for (int64_t i = 0; i < count; i++) {
            out += (i ? ", " : "") + std::string("{\"input\": ") + json_string(labels[i]) +
                   ", \"probabilities\": [";
            for (int c = 0; c < k; c++) {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%.9g", probs[(size_t)(i * k + c)]);
                out += (c ? ", " : "") + std::string(buf);
            }
            out += "]}";
        }
        std::cout << out << "]}\n";
        return 0;
    }
    int top = std::min(top_, k);
    for (int64_t i = 0; i < count; i++) {
        const float *p = probs.data() + i * k;
        std::vector<int> order(k);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + top, order.end(),
                          [&](int a, int b) { return p[a] > p[b]; });
        std::cout << labels[(size_t)i] << ":";
        for (int t = 0; t < top; t++) {
            std::cout << (t ? "," : "") << " " << ckpt->class_names[(size_t)order[t]] << " "
                      << fixed(p[order[t]], 3);
        }
        std::cout << "\n";
    }
    return 0;
}

}  // namespace netc::cli
