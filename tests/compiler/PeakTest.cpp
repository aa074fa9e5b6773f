// The peak FMA rate (compiler/Peak.h) lies between what one core reaches issuing a vector FMA
// every other cycle at 0.5 GHz and what every hardware thread could reach with two FMA pipes at
// 6 GHz: it fails on a kernel that is not vectorized, not parallel, or timed wrongly.
#include "compiler/Peak.h"
#include "compiler/Target.h"

#include <doctest/doctest.h>

#include <thread>

TEST_CASE("the measured peak is a plausible FMA rate for the host") {
    Halide::Target target = netc::host_target().target;
    double lanes = target.natural_vector_size<float>();
    double threads = std::thread::hardware_concurrency();
    double gflops = netc::measure_peak_gflops(target);
    MESSAGE("peak " << gflops << " GFLOP/s on " << netc::describe_target(target) << ", " << threads
                    << " threads");
    CHECK(gflops > lanes * 2 * 0.5 * 0.5);
    CHECK(gflops < threads * 2 * lanes * 2 * 6.0);
}
