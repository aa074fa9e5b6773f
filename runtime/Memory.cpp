#include "runtime/Memory.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

namespace netc::runtime {

namespace {

constexpr int64_t unknown = std::numeric_limits<int64_t>::max();

/// The value of `key` (in kB) in a /proc file of "Key:   value kB" lines, in bytes.
int64_t proc_kib(const char *path, const std::string &key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() &&
            line[key.size()] == ':') {
            std::istringstream fields(line.substr(key.size() + 1));
            int64_t kib = 0;
            if (fields >> kib) return kib * 1024;
        }
    }
    return unknown;
}

/// A cgroup v2 file holding one number (or "max").
int64_t cgroup_value(const std::string &name) {
    std::ifstream in("/sys/fs/cgroup/" + name);
    std::string text;
    if (!(in >> text) || text == "max") return unknown;
    try {
        return std::stoll(text);
    } catch (...) {
        return unknown;
    }
}

}  // namespace

int64_t available_memory() {
    int64_t available = proc_kib("/proc/meminfo", "MemAvailable");
    const int64_t limit = cgroup_value("memory.max"), used = cgroup_value("memory.current");
    if (limit != unknown && used != unknown) available = std::min(available, limit - used);
    rlimit as{};
    if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
        const int64_t mapped = proc_kib("/proc/self/status", "VmSize");
        if (mapped != unknown) available = std::min(available, (int64_t)as.rlim_cur - mapped);
    }
    return std::max<int64_t>(available, 0);
}

std::string format_bytes(int64_t bytes) {
    char text[32];
    const double b = (double)bytes;
    if (bytes >= (int64_t(1) << 30))
        std::snprintf(text, sizeof text, "%.1f GiB", b / (1 << 30));
    else if (bytes >= (int64_t(1) << 20))
        std::snprintf(text, sizeof text, "%.1f MiB", b / (1 << 20));
    else if (bytes >= 10 * 1024)
        std::snprintf(text, sizeof text, "%.0f KiB", b / 1024);
    else
        std::snprintf(text, sizeof text, "%lld B", (long long)bytes);
    return text;
}

Status check_memory(const std::string &what, int64_t bytes, const std::string &detail,
                    const std::string &advice) {
    const int64_t available = available_memory();
    if (bytes <= available) return Status();
    return Status::error(what + " needs " + format_bytes(bytes) + " of memory" +
                         (detail.empty() ? "" : " (" + detail + ")") + ", but " +
                         format_bytes(available) + " is available" +
                         (advice.empty() ? "" : "; " + advice));
}

}  // namespace netc::runtime
