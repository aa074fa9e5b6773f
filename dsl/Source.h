#pragma once
// A .net source file held in memory, and positions within it.

#include <string>
#include <string_view>
#include <vector>

namespace netc {

/// A 1-based line:column position; line 0 means "no position" (e.g. a generated node).
struct SourceLoc {
    int line = 0;
    int col = 0;
    bool known() const { return line > 0; }
};

class SourceFile {
public:
    SourceFile(std::string path, std::string text);

    const std::string &path() const { return path_; }
    const std::string &text() const { return text_; }
    /// The text of line `n` (1-based) without its newline; empty when out of range.
    std::string_view line(int n) const;

private:
    std::string path_;
    std::string text_;
    std::vector<size_t> line_starts_;  // (lines) byte offset of each line's first character
};

/// Reads a whole file. Returns false and fills `error` (naming the file) when it cannot be read.
bool read_source_file(const std::string &path, std::string &text, std::string &error);

}  // namespace netc
