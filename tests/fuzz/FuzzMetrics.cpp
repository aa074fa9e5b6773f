// The metrics.jsonl reader of `netc plot` on arbitrary bytes: JSON lines of two kinds, blank
// lines, a last line cut short, repeated steps. A file it reads must hold sorted steps.

#include "tests/fuzz/FuzzInput.h"
#include "tools/netc/Metrics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string path = netc::fuzz::write_scratch(data, size, ".jsonl");
    netc::runtime::Result<netc::cli::Metrics> metrics = netc::cli::read_metrics(path);
    netc::fuzz::expect_message(metrics.ok(), metrics.message());
    if (!metrics) return 0;
    for (size_t i = 1; i < metrics->intervals.size(); i++) {
        if (metrics->intervals[i - 1].step >= metrics->intervals[i].step) std::abort();
    }
    for (size_t i = 1; i < metrics->epochs.size(); i++) {
        if (metrics->epochs[i - 1].step >= metrics->epochs[i].step) std::abort();
    }
    return 0;
}
