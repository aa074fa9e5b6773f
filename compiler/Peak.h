#pragma once
// The machine's peak floating-point rate, measured by netc itself: the denominator of
// `netc bench`'s "fraction of peak". A short Halide JIT kernel runs independent multiply-add
// chains on every core, as many accumulators as keep both FMA pipes of a core busy, at the
// target's vector width; the rate it reaches is what generated code could at best reach.

#include <Halide.h>

namespace netc {

/// GFLOP/s (2 per multiply-add) of the FMA kernel JIT-compiled for `target`, over all hardware
/// threads: the fastest of three runs of about 0.1 s each (other loads on the machine only slow a
/// run down). Compiling it takes a fraction of a second more. On a Zen 4 core an AVX-512 FMA
/// occupies both 256-bit pipes, so the figure there is half of "2 FMA pipes x 16 lanes".
double measure_peak_gflops(const Halide::Target &target);

}  // namespace netc
