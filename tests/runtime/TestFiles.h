#pragma once
// Helpers for runtime tests that write small data files: a temporary directory removed at the
// end of the test, and writers for raw bytes, gzip and IDX.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include <zlib.h>

namespace netc::test {

class TempDir {
public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "netc-runtime-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::string &path() const { return path_; }
    std::string operator/(const std::string &name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

inline void write_bytes(const std::string &path, const std::vector<uint8_t> &bytes) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write " + path);
    if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
}

inline void write_gzip(const std::string &path, const std::vector<uint8_t> &bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write " + path);
    if (!bytes.empty()) gzwrite(f, bytes.data(), (unsigned)bytes.size());
    gzclose(f);
}

inline std::vector<uint8_t> read_bytes(const std::string &path) {
    std::vector<uint8_t> bytes;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return bytes;
    int c;
    while ((c = std::fgetc(f)) != EOF) bytes.push_back((uint8_t)c);
    std::fclose(f);
    return bytes;
}

inline void put_be32(std::vector<uint8_t> &out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back((uint8_t)(v >> shift));
}

/// An IDX image file: magic 0x00000803, count, rows, columns, then pixel (i, y, x) = (i * 7 + y * 3
/// + x) % 256.
inline std::vector<uint8_t> idx_images(uint32_t count, uint32_t rows, uint32_t columns) {
    std::vector<uint8_t> out;
    put_be32(out, 0x00000803);
    put_be32(out, count);
    put_be32(out, rows);
    put_be32(out, columns);
    for (uint32_t i = 0; i < count; i++) {
        for (uint32_t y = 0; y < rows; y++) {
            for (uint32_t x = 0; x < columns; x++)
                out.push_back((uint8_t)((i * 7 + y * 3 + x) % 256));
        }
    }
    return out;
}

/// An IDX label file with the given labels.
inline std::vector<uint8_t> idx_labels(const std::vector<uint8_t> &labels) {
    std::vector<uint8_t> out;
    put_be32(out, 0x00000801);
    put_be32(out, (uint32_t)labels.size());
    out.insert(out.end(), labels.begin(), labels.end());
    return out;
}

/// The whole file (empty when it is not there), read at once: a file being replaced is seen
/// either before or after, never in between, when the writer is atomic.
inline std::string read_text(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline void write_text(const std::string &path, const std::string &text) {
    write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

/// The lines of a metrics.jsonl with their "img_per_s" (which measures the machine, not the
/// run) cut off, to compare two runs.
inline std::vector<std::string> metrics_lines(const std::string &path) {
    std::istringstream in(read_text(path));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line.substr(0, line.find(", \"img_per_s\"")));
    }
    return lines;
}

}  // namespace netc::test
