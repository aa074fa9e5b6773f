#include "runtime/Files.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace netc::runtime {

namespace {

std::string system_error(const std::string &path, const std::string &what, int err) {
    return path + ": " + what + ": " + std::strerror(err);
}

std::string directory_of(const std::string &path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

/// Closes a file descriptor on scope exit unless released.
struct FdGuard {
    int fd = -1;
    ~FdGuard() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::string join_path(const std::string &dir, const std::string &name) {
    if (dir.empty()) return name;
    if (dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

bool is_regular_file(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int64_t file_size(const std::string &path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    return (int64_t)st.st_size;
}

Result<std::vector<uint8_t>> read_file(const std::string &path) {
    FdGuard guard{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (guard.fd < 0)
        return Result<std::vector<uint8_t>>::error(system_error(path, "cannot open", errno));
    struct stat st;
    if (::fstat(guard.fd, &st) != 0)
        return Result<std::vector<uint8_t>>::error(system_error(path, "cannot stat", errno));
    if (S_ISDIR(st.st_mode))
        return Result<std::vector<uint8_t>>::error(path + ": is a directory, expected a file");
    std::vector<uint8_t> bytes;
    bytes.reserve((size_t)st.st_size);
    uint8_t chunk[1 << 16];
    for (;;) {
        const ssize_t got = ::read(guard.fd, chunk, sizeof chunk);
        if (got < 0) {
            if (errno == EINTR) continue;
            return Result<std::vector<uint8_t>>::error(system_error(path, "read failed", errno));
        }
        if (got == 0) break;
        bytes.insert(bytes.end(), chunk, chunk + got);
    }
    return bytes;
}

Result<FileContents> read_file_maybe_gzip(const std::string &path, size_t limit) {
    auto raw = read_file(path);
    if (!raw) return raw.status();
    FileContents contents;
    const std::vector<uint8_t> &bytes = raw.value();
    if (bytes.size() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b) {
        contents.bytes = std::move(raw).value();
        return contents;
    }
    contents.gzip = true;

    // inflate in memory: 16 + MAX_WBITS selects the gzip wrapper. Concatenated members are
    // decoded one after another, as gzip(1) does.
    z_stream stream;
    std::memset(&stream, 0, sizeof stream);
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK)
        return Result<FileContents>::error(path + ": cannot initialize zlib");
    stream.next_in = const_cast<Bytef *>(bytes.data());
    stream.avail_in = (uInt)bytes.size();
    std::vector<uint8_t> &out = contents.bytes;
    out.resize(std::min(bytes.size() * 4 + 1024, limit));
    size_t produced = 0;  // not stream.total_out: inflateReset() clears it between members
    for (;;) {
        if (produced == limit) {
            contents.over_limit = true;
            break;
        }
        if (produced == out.size()) out.resize(std::min(out.size() * 2, limit));
        const size_t room = std::min<size_t>(out.size() - produced, 1u << 30);
        stream.next_out = out.data() + produced;
        stream.avail_out = (uInt)room;
        const int rc = inflate(&stream, Z_NO_FLUSH);
        produced += room - stream.avail_out;
        if (rc == Z_STREAM_END) {
            // Another gzip member may follow; anything else after the stream is an error.
            if (stream.avail_in >= 2 && stream.next_in[0] == 0x1f && stream.next_in[1] == 0x8b) {
                inflateReset(&stream);
                continue;
            }
            if (stream.avail_in > 0) {
                const std::string message = path + ": " + std::to_string(stream.avail_in) +
                                            " unexpected bytes after the end of the gzip stream";
                inflateEnd(&stream);
                return Result<FileContents>::error(message);
            }
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            const std::string message =
                path + ": corrupt gzip data (zlib: " + (stream.msg ? stream.msg : zError(rc)) + ")";
            inflateEnd(&stream);
            return Result<FileContents>::error(message);
        }
        if (stream.avail_in == 0 && stream.avail_out != 0) {
            // All input consumed, output space left, and no end marker: the stream is cut short.
            contents.gzip_cut_short = true;
            break;
        }
    }
    out.resize(produced);
    inflateEnd(&stream);
    return contents;
}

Result<std::vector<uint8_t>> read_head_maybe_gzip(const std::string &path, size_t count) {
    gzFile file = gzopen(path.c_str(), "rb");  // reads a file without the gzip magic as it is
    if (!file) return Result<std::vector<uint8_t>>::error(system_error(path, "cannot open", errno));
    std::vector<uint8_t> head(count);
    const int got = gzread(file, head.data(), (unsigned)count);
    int code = Z_OK;
    const std::string zlib_message = gzerror(file, &code);
    gzclose(file);
    if (got < 0 && code == Z_ERRNO)
        return Result<std::vector<uint8_t>>::error(system_error(path, "read failed", errno));
    if (got < 0) {
        return Result<std::vector<uint8_t>>::error(
            path + ": corrupt gzip data (zlib: " + zlib_message + ")");
    }
    head.resize((size_t)got);
    return head;
}

Status write_file_atomically(const std::string &path,
                             const std::function<void(const ByteSink &sink)> &write) {
    const std::string dir = directory_of(path);
    std::string temp = path + ".tmp.XXXXXX";
    FdGuard file{::mkostemp(temp.data(), O_CLOEXEC)};
    if (file.fd < 0)
        return Status::error(system_error(path, "cannot create a temporary file in " + dir, errno));

    int write_errno = 0;
    const ByteSink sink = [&](const void *data, size_t size) {
        if (write_errno) return false;
        const char *p = (const char *)data;
        while (size > 0) {
            const ssize_t n = ::write(file.fd, p, size);
            if (n < 0) {
                if (errno == EINTR) continue;
                write_errno = errno;
                return false;
            }
            p += n;
            size -= (size_t)n;
        }
        return true;
    };
    write(sink);

    auto fail = [&](const std::string &what, int err) {
        ::unlink(temp.c_str());
        return Status::error(system_error(path, what, err));
    };
    if (write_errno) return fail("write failed", write_errno);
    if (::fchmod(file.fd, 0644) != 0) return fail("cannot set the file mode", errno);
    if (::fsync(file.fd) != 0) return fail("fsync failed", errno);
    const int fd = file.fd;
    file.fd = -1;
    if (::close(fd) != 0) return fail("close failed", errno);
    if (::rename(temp.c_str(), path.c_str()) != 0)
        return fail("cannot rename the temporary file into place", errno);

    // The rename is durable only once the directory entry is on disk.
    FdGuard directory{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (directory.fd < 0)
        return Status::error(system_error(dir, "cannot open the directory to fsync it", errno));
    if (::fsync(directory.fd) != 0 && errno != EINVAL)
        return Status::error(system_error(dir, "fsync of the directory failed", errno));
    return Status();
}

}  // namespace netc::runtime
