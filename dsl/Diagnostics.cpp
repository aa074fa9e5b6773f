#include "dsl/Diagnostics.h"

#include <algorithm>
#include <ostream>

namespace netc {

void Diagnostics::error(SourceLoc loc, std::string message) {
    diagnostics_.push_back({Severity::Error, loc, std::move(message)});
    error_count_++;
}

void Diagnostics::warning(SourceLoc loc, std::string message) {
    diagnostics_.push_back({Severity::Warning, loc, std::move(message)});
}

void Diagnostics::note(SourceLoc loc, std::string message) {
    diagnostics_.push_back({Severity::Note, loc, std::move(message)});
}

std::string Diagnostics::render() const {
    // Parsing and semantic checks report in separate sweeps; print in source order, each note
    // staying right after the error or warning it belongs to.
    std::vector<std::vector<const Diagnostic *>> groups;
    for (const Diagnostic &d : diagnostics_) {
        if (d.severity != Severity::Note || groups.empty()) groups.emplace_back();
        groups.back().push_back(&d);
    }
    std::stable_sort(groups.begin(), groups.end(), [](const auto &a, const auto &b) {
        SourceLoc x = a[0]->loc, y = b[0]->loc;
        return x.line != y.line ? x.line < y.line : x.col < y.col;
    });
    std::string out;
    for (const auto &group : groups) {
        for (const Diagnostic *dp : group) out += render_one(*dp);
    }
    return out;
}

std::string Diagnostics::render_one(const Diagnostic &d) const {
    std::string out;
    {
        out += file_->path();
        if (d.loc.known()) {
            // Appended piece by piece: `":" + std::to_string(...)` trips GCC 12's false -Wrestrict.
            out += ':';
            out += std::to_string(d.loc.line);
            out += ':';
            out += std::to_string(d.loc.col);
        }
        const char *kind = d.severity == Severity::Error     ? "error"
                           : d.severity == Severity::Warning ? "warning"
                                                             : "note";
        out += std::string(": ") + kind + ": " + d.message + "\n";
        if (!d.loc.known()) return out;
        std::string_view line = file_->line(d.loc.line);
        if (line.empty()) return out;
        out += "  ";
        out += line;
        out += "\n  ";
        // Keep tabs so the caret lines up under the same column in a terminal.
        for (int i = 0; i + 1 < d.loc.col && i < (int)line.size(); i++) {
            out += line[i] == '\t' ? '\t' : ' ';
        }
        out += "^\n";
    }
    return out;
}

void Diagnostics::print(std::ostream &out) const { out << render(); }

namespace {

size_t edit_distance(const std::string &a, const std::string &b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); j++) row[j] = j;
    for (size_t i = 1; i <= a.size(); i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); j++) {
            size_t above = row[j];
            size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string nearest_name(const std::string &word, const std::vector<std::string> &candidates) {
    std::string best;
    size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
    for (const std::string &c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_distance) {
            best = c;
            best_distance = d;
        }
    }
    return best;
}

std::string did_you_mean(const std::string &word, const std::vector<std::string> &candidates) {
    std::string best = nearest_name(word, candidates);
    return best.empty() ? "" : "; did you mean '" + best + "'?";
}

}  // namespace netc
