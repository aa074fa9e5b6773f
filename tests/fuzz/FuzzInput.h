#pragma once
// What the libFuzzer harnesses share. Most readers take a path (they name it in messages and
// decide between raw and gzip themselves), so a harness writes its input to one scratch file per
// process, in memory-backed /dev/shm where there is one, and hands the reader that path.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace netc::fuzz {

/// The scratch file's path: `<dir>/netc-fuzz-<pid><suffix>`.
inline std::string scratch_path(const char *suffix) {
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/netc-fuzz-" + std::to_string(getpid()) + suffix;
}

/// Replaces the scratch file's contents with the input; returns its path. A harness that cannot
/// write its scratch file cannot test anything, so that aborts the run.
inline std::string write_scratch(const uint8_t *data, size_t size, const char *suffix = "") {
    std::string path = scratch_path(suffix);
    FILE *file = std::fopen(path.c_str(), "wb");
    if (!file || (size && std::fwrite(data, 1, size, file) != size) || std::fclose(file) != 0) {
        std::perror(path.c_str());
        std::abort();
    }
    return path;
}

/// Aborts (a finding) when a reader reports failure with an empty message: every refusal must
/// say what was wrong.
inline void expect_message(bool ok, const std::string &message) {
    if (!ok && message.empty()) {
        std::fputs("reader failed without a message\n", stderr);
        std::abort();
    }
}

}  // namespace netc::fuzz
