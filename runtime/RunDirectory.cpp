#include "runtime/RunDirectory.h"

#include "runtime/Files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>
#include <vector>

namespace netc::runtime {

namespace {

namespace fs = std::filesystem;

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

}  // namespace

RunDirectory::RunDirectory(const std::string &dir)
    : dir_(dir), last_path_((fs::path(dir) / "last.safetensors").string()),
      best_path_((fs::path(dir) / "best.safetensors").string()),
      metrics_path_((fs::path(dir) / "metrics.jsonl").string()) {}

RunDirectory::~RunDirectory() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status RunDirectory::open(bool resume) {
    // Checked before the directory is created, so that a mistyped --out is not left behind.
    if (resume && !fs::exists(last_path_)) return Status::error(no_checkpoint(dir_, last_path_));
    if (Status s = check_writable_dir(dir_); !s) return s;
    if (Status s = lock(); !s) return s;
    if (!resume && fs::exists(last_path_)) {
        return Status::error(last_path_ +
                             ": a checkpoint is already there; pass --resume to continue that run, "
                             "or choose another output directory (nothing was overwritten)");
    }
    return {};
}

Status RunDirectory::lock() {
    lock_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock_fd_ < 0)
        return Status::error(dir_ + ": cannot open the output directory: " + std::strerror(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
        // A file system without locks (some network ones) trains unguarded, as it did.
        return {};
    }
    return Status::error(dir_ + ": another netc train is running in this output directory; "
                                "wait for it to end or choose another --out (nothing was "
                                "changed)");
}

Status RunDirectory::clean_up_killed_run(int64_t step, std::ostream *out) {
    int stale = remove_stale_temporaries(dir_);
    Result<int64_t> dropped = trim_metrics(metrics_path_, step);
    if (!dropped) return dropped.status();
    if (out && stale > 0) {
        *out << "note: removed " << stale << " temporary file" << (stale == 1 ? "" : "s")
             << " left in " << dir_ << " by a run that was killed while writing\n";
    }
    if (out && *dropped > 0) {
        *out << "note: dropped " << *dropped << " line" << (*dropped == 1 ? "" : "s") << " of "
             << metrics_path_ << " written after step " << step
             << " by a run that stopped before its next checkpoint\n";
    }
    return {};
}
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

}  // namespace netc::runtime
