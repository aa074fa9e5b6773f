#pragma once
// Golden-file tests: the expected output of a dump sits next to its input, e.g.
// tests/dsl/golden/residual.net and residual.ast. A mismatch fails with the first differing line
// and the whole actual output, ready to diff; running the tests with NETC_UPDATE_GOLDEN=1 rewrites
// the expected files instead (review the change with `git diff`).

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace netc::testing {

inline std::string read_text_file(const std::filesystem::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// The `.net` inputs of a golden directory, sorted by name.
inline std::vector<std::filesystem::path> golden_inputs(const std::filesystem::path &dir) {
    std::vector<std::filesystem::path> out;
    for (const auto &entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".net") out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

inline std::vector<std::string> split_lines(const std::string &text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

/// Compares `actual` with the contents of `expected_path`.
inline void check_golden(const std::filesystem::path &expected_path, const std::string &actual) {
    if (const char *update = std::getenv("NETC_UPDATE_GOLDEN"); update && *update) {
        std::ofstream(expected_path, std::ios::binary) << actual;
        MESSAGE("rewrote " << expected_path.string());
        return;
    }
    if (!std::filesystem::exists(expected_path)) {
        FAIL("missing golden file " << expected_path.string() << "; actual output:\n"
                                    << actual << "(write it with NETC_UPDATE_GOLDEN=1)");
        return;
    }
    std::string expected = read_text_file(expected_path);
    if (expected == actual) return;
    std::vector<std::string> want = split_lines(expected), got = split_lines(actual);
    size_t line = 0;
    while (line < want.size() && line < got.size() && want[line] == got[line]) line++;
    FAIL(expected_path.string()
         << ":" << line + 1 << ": golden mismatch\n"
         << "  expected: " << (line < want.size() ? want[line] : "<end of file>") << "\n"
         << "  actual:   " << (line < got.size() ? got[line] : "<end of output>") << "\n"
         << "whole actual output:\n"
         << actual << "(if the change is intended: NETC_UPDATE_GOLDEN=1 ctest, then git diff)");
}

}  // namespace netc::testing
