#include "tools/netc/Metrics.h"

#include "dsl/Source.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <optional>

namespace netc::cli {

namespace {

using nlohmann::json;

constexpr int max_errors_shown = 10;

/// `j` shortened for a message.
std::string excerpt(const json &j) {
    std::string text = j.dump();
    return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

/// The lines of one kind, by step: a later line for the same step replaces the earlier one.
struct Lines {
    std::map<int64_t, IntervalMetrics> intervals;
    std::map<int64_t, EpochMetrics> epochs;
};

/// `"key" must be WHAT, not VALUE`. Built piece by piece: `"\"" + std::string(key) + ...` trips
/// GCC 12's false -Wrestrict.
std::string bad_value(const char *key, const char *what, const json &value) {
    std::string message = "\"";
    message += key;
    message += "\" must be ";
    message += what;
    message += ", not ";
    message += excerpt(value);
    return message;
}

/// Parses one non-blank line into `lines`; the error message when it is not a metrics line.
std::optional<std::string> parse_line(std::string_view text, Lines &lines) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error &e) {
        // nlohmann's what() is "[json.exception.parse_error.101] parse error at line 1, column
        // 5: syntax error while parsing ..."; the line is ours to name, the reason is its.
        std::string reason = e.what();
        size_t colon = reason.find(": ", reason.find("column"));
        if (colon != std::string::npos) reason = reason.substr(colon + 2);
        return "not JSON at column " + std::to_string(e.byte) + ": " + reason;
    } catch (const json::out_of_range &e) {
        // A number beyond a double ("1e999"): "[json.exception.out_of_range.406] number overflow
        // parsing '1e999'".
        std::string reason = e.what();
        const size_t pos = reason.find("] ");
        if (pos != std::string::npos) reason = reason.substr(pos + 2);
        return "not JSON: " + reason;
    }
    if (!j.is_object()) {
        return "expected a JSON object such as {\"step\": 50, \"loss\": 1.79}, not " +
               std::string(j.type_name()) + " " + excerpt(j);
    }
    for (const char *key : {"step", "loss"}) {
        if (!j.contains(key)) {
            std::string message = "no \"";
            message += key;
            message += "\": every line netc train writes has \"step\" and \"loss\"";
            return message;
        }
    }
    auto whole = [&](const char *key, int64_t &out) -> std::optional<std::string> {
        const json &v = j.at(key);
        if (!v.is_number_unsigned()) return bad_value(key, "a whole number >= 0", v);
        out = v.get<int64_t>();
        return std::nullopt;
    };
    auto number = [&](const char *key, double &out) -> std::optional<std::string> {
        out = NAN;
        if (!j.contains(key)) return std::nullopt;
        const json &v = j.at(key);
        if (v.is_null()) return std::nullopt;
        if (!v.is_number()) return bad_value(key, "a number or null", v);
        out = v.get<double>();
        return std::nullopt;
    };
    int64_t step = 0, epoch = 0;
    if (auto e = whole("step", step)) return e;
    if (j.contains("epoch")) {
        if (auto e = whole("epoch", epoch)) return e;
    }
    if (j.contains("val_accuracy")) {
        EpochMetrics m{.step = step, .epoch = epoch};
        for (auto [key, out] : {std::pair{"loss", &m.loss},
                                {"accuracy", &m.accuracy},
                                {"val_accuracy", &m.val_accuracy}}) {
            if (auto e = number(key, *out)) return e;
        }
        lines.epochs[step] = m;
    } else {
        IntervalMetrics m{.step = step, .epoch = epoch};
        for (auto [key, out] :
             {std::pair{"loss", &m.loss}, {"accuracy", &m.accuracy}, {"lr", &m.lr}}) {
            if (auto e = number(key, *out)) return e;
        }
        lines.intervals[step] = m;
    }
    return std::nullopt;
}

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

runtime::Result<Metrics> read_metrics(const std::string &path) {
    std::string text, read_error;
    if (!read_source_file(path, text, read_error)) {
        return runtime::Result<Metrics>::error(read_error);
    }
    Metrics metrics;
    Lines lines;
    std::string errors;
    int error_count = 0;
    bool any_line = false;
    int n = 0;  // the line number
    for (size_t begin = 0; begin < text.size();) {
        const size_t newline = text.find('\n', begin);
        const size_t end = newline == std::string::npos ? text.size() : newline;
        std::string_view line(text.data() + begin, end - begin);
        begin = end + 1;
        n++;
        if (is_blank(line)) continue;
        any_line = true;
        auto where = [&](const char *kind) {
            return path + ":" + std::to_string(n) + ": " + kind + ": ";
        };
        // A run still writing, or killed in a write, leaves its last line without a newline.
        if (newline == std::string::npos && !json::accept(line)) {
            metrics.warnings.push_back(where("warning") +
                                       "the last line is cut short (a run still writing, or "
                                       "killed while writing); it is left out");
            continue;
        }
        std::optional<std::string> error = parse_line(line, lines);
        if (error && ++error_count <= max_errors_shown) errors += where("error") + *error + "\n";
    }
    if (error_count > max_errors_shown) {
        errors += path + ": error: " + std::to_string(error_count - max_errors_shown) +
                  " more bad lines not shown\n";
    }
    if (!any_line) {
        errors = path + ": error: no metrics to plot: the file " +
                 (text.empty() ? "is empty" : "has only blank lines") + "\n";
    }
    if (!errors.empty()) {
        errors.pop_back();  // the caller ends the message
        return runtime::Result<Metrics>::error(errors);
    }
    for (const auto &[step, m] : lines.intervals) metrics.intervals.push_back(m);
    for (const auto &[step, m] : lines.epochs) metrics.epochs.push_back(m);
    return metrics;
}

}  // namespace netc::cli
