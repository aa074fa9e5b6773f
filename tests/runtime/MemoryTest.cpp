// What the runtime believes it may still allocate, and the refusal it words from that.

#include "runtime/Memory.h"

#include <doctest/doctest.h>

#include <string>
#include <unistd.h>

using namespace netc::runtime;

TEST_CASE("available memory is positive and below the machine's") {
    const int64_t available = available_memory();
    const int64_t total = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    CHECK(available > 0);
    CHECK(available <= total);
}

TEST_CASE("bytes read as people write them") {
    CHECK(format_bytes(300) == "300 B");
    CHECK(format_bytes(12 * 1024) == "12 KiB");
    CHECK(format_bytes(640 << 20) == "640.0 MiB");
    CHECK(format_bytes(int64_t(3) << 29) == "1.5 GiB");
}

TEST_CASE("a figure that does not fit is refused with both figures and the advice") {
    CHECK(check_memory("x", 1 << 20).ok());
    const Status refused =
        check_memory("model.net: training at batch 64", int64_t(1) << 60, "detail", "advice");
    REQUIRE(!refused.ok());
    const std::string &m = refused.message();
    CHECK_MESSAGE(m.rfind("model.net: training at batch 64 needs 1073741824.0 GiB of memory "
                          "(detail), but ",
                          0) == 0,
                  m);
    const std::string tail = " is available; advice";
    CHECK_MESSAGE(m.size() > tail.size(), m);
    CHECK_MESSAGE(m.compare(m.size() - tail.size(), tail.size(), tail) == 0, m);
}
