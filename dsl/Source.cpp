#include "dsl/Source.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace netc {

SourceFile::SourceFile(std::string path, std::string text)
    : path_(std::move(path)), text_(std::move(text)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < text_.size(); i++) {
        if (text_[i] == '\n') line_starts_.push_back(i + 1);
    }
}

std::string_view SourceFile::line(int n) const {
    if (n < 1 || n > (int)line_starts_.size()) return {};
    size_t begin = line_starts_[n - 1];
    size_t end = n < (int)line_starts_.size() ? line_starts_[n] - 1 : text_.size();
    if (end > begin && text_[end - 1] == '\r') end--;
    return std::string_view(text_).substr(begin, end - begin);
}

bool read_source_file(const std::string &path, std::string &text, std::string &error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = path + ": error: cannot open file: " + std::strerror(errno);
        return false;
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) {
        error = path + ": error: cannot read file";
        return false;
    }
    text = buffer.str();
    return true;
}

}  // namespace netc
