#pragma once
// Small file helpers shared by the readers and writers: whole-file reads (gzip or raw) and
// atomic writes. Errors name the file and carry the system's reason.

#include "runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace netc::runtime {

/// `dir/name`, or `name` alone when dir is empty.
std::string join_path(const std::string &dir, const std::string &name);

bool is_regular_file(const std::string &path);
bool is_directory(const std::string &path);
/// The size in bytes of a regular file; -1 when it cannot be stat'd or is not one.
int64_t file_size(const std::string &path);

/// The whole file.
Result<std::vector<uint8_t>> read_file(const std::string &path);

struct FileContents {
    std::vector<uint8_t> bytes;   // decompressed when the file was gzip
    bool gzip = false;            // the file started with the gzip magic 1f 8b
    bool gzip_cut_short = false;  // the gzip stream ended before its end marker (bytes is partial)
    bool over_limit = false;      // the gzip stream holds more than the limit (bytes stops there)
};

/// The whole file, decompressed with zlib when it starts with the gzip magic. A gzip stream that
/// ends early is not an error here (the caller can say what was missing); corrupt gzip data is.
/// Decompression stops after `limit` bytes (setting over_limit), so that a small file cannot
/// expand past what its header declares and exhaust memory.
Result<FileContents> read_file_maybe_gzip(const std::string &path, size_t limit = SIZE_MAX);

/// At most the first `count` bytes of the file's contents, decompressed when it is gzip: a
/// header, read to decide whether the whole file can be read. Fewer when the contents are shorter
/// or the gzip data is damaged (the whole read then says what is wrong).
Result<std::vector<uint8_t>> read_head_maybe_gzip(const std::string &path, size_t count);

/// Writes a file atomically: `write` fills a temporary file in the same directory, which is then
/// flushed to disk (fsync), renamed over `path`, and the directory is fsync'd. If anything fails
/// the temporary file is removed and any existing file at `path` is left untouched. `write`
/// receives an appender that returns false on a failed write (the error is reported from here).
/// The new file gets mode 0644.
using ByteSink = std::function<bool(const void *data, size_t size)>;
Status write_file_atomically(const std::string &path,
                             const std::function<void(const ByteSink &sink)> &write);

}  // namespace netc::runtime
