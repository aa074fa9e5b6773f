#pragma once
// Collects user-facing diagnostics and renders them as `file:line:col: error: message`,
// followed by the source line and a caret, so editors can jump to them.
//
// User errors are diagnostics; bugs in netc are `internal_error`s (see dsl/Error.h).

#include "dsl/Source.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace netc {

enum class Severity { Error, Warning, Note };

struct Diagnostic {
    Severity severity;
    SourceLoc loc;
    std::string message;
};

class Diagnostics {
public:
    explicit Diagnostics(const SourceFile &file) : file_(&file) {}

    void error(SourceLoc loc, std::string message);
    void warning(SourceLoc loc, std::string message);
    /// A note attached to the previous error or warning (e.g. "'stem' was defined here").
    void note(SourceLoc loc, std::string message);

    bool has_errors() const { return error_count_ > 0; }
    int error_count() const { return error_count_; }
    const std::vector<Diagnostic> &all() const { return diagnostics_; }
    const SourceFile &file() const { return *file_; }

    /// Every diagnostic, in the order reported, each with its source line and caret.
    std::string render() const;
    void print(std::ostream &out) const;

private:
    std::string render_one(const Diagnostic &d) const;

    const SourceFile *file_;
    std::vector<Diagnostic> diagnostics_;
    int error_count_ = 0;
};

/// The closest name to `word` among `candidates` by edit distance, or "" when none is close
/// enough to be a plausible typo. Used for "did you mean 'conv2d'?".
std::string nearest_name(const std::string &word, const std::vector<std::string> &candidates);

/// " (did you mean 'x'?)" or "" when nothing is close.
std::string did_you_mean(const std::string &word, const std::vector<std::string> &candidates);

}  // namespace netc
