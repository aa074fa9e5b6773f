#include "compiler/Peak.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

namespace netc {

using namespace Halide;

namespace {

constexpr int chain = 8;  // dependent multiply-adds per lane and repeat

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

// acc(v, t) = ((acc * m + c) * m + c) ..., `chain` multiply-adds per repeat r. A row of acc is
// `accumulators` native vectors (its extent is bound, so it is one straight-line block), and LLVM
// emits that many independent FMA chains interleaved: enough to cover the FMA latency (4-5
// cycles) on two pipes per core. m and c are parameters, so nothing folds; m < 1 keeps the values
// bounded and away from denormals. The `r.x * 0` ties the update to r and simplifies away.
// Measured on a 2-core AMD EPYC (Zen 4/5 class, AVX-512): 96 vfmadd213ps per repeat, no shuffles
// of the accumulators.
double measure_peak_gflops(const Target &target) {
    int width = std::max(1, target.natural_vector_size<float>());
    int accumulators = target.has_feature(Target::AVX512) ? 12 : 10;  // of 32 or 16 registers
    int lanes = width * accumulators;
    int threads = (int)std::max(1u, std::thread::hardware_concurrency());

    Param<int> repeats("repeats");
    Param<float> m("m"), c("c");
    Var v("v"), t("t");
    RDom r(0, repeats, "r");
    Func acc("peak_acc");
    acc(v, t) = 1.0f + cast<float>(v) * 1e-3f + cast<float>(t) * 1e-4f;
    Expr e = acc(v, t) * m + (c + cast<float>(r.x * 0));
    for (int i = 1; i < chain; i++) e = e * m + c;
    acc(v, t) = e;
    acc.bound(v, 0, lanes).vectorize(v, lanes).parallel(t);
    acc.update().reorder(v, r.x, t).vectorize(v, lanes).parallel(t);
    acc.compile_jit(target);

    m.set(0.999999f);
    c.set(1e-6f);
    Buffer<float> state(lanes, threads);
    auto run = [&](int n) {
        repeats.set(n);
        auto start = std::chrono::steady_clock::now();
        acc.realize(state, target);
        return seconds_since(start);
    };
    // Calibrate on a short run (which also warms the thread pool), then take the fastest of
    // three runs of about 0.1 s: on a shared machine the other loads only ever slow a run down.
    int n = 1000;
    double t0 = run(n);
    while (t0 < 0.02 && n < (1 << 28)) t0 = run(n *= 4);
    n = (int)std::min(2e9, std::max(1.0, n * 0.1 / t0));
    double seconds = run(n);
    for (int i = 0; i < 2; i++) seconds = std::min(seconds, run(n));
    double flops = 2.0 * lanes * threads * chain * (double)n;
    return flops / seconds * 1e-9;
}

}  // namespace netc
