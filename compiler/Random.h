#pragma once
// The counter-based random numbers netc's generated code uses (parameter init; the masks and
// draws of dropout, DropConnect, stochastic depth and fractional max pooling): every number is a
// pure function of (seed, stream, index), so results are the same bits whatever the thread count
// or schedule. Augmentation runs in the runtime and draws from runtime/Random.h.
// The same hash is written twice, once as Halide expressions and once as plain C++ for the
// tests and the runtime; tests check that the two agree.

#include <cstdint>

namespace netc::random {

/// A 32-bit integer finalizer with low bias (the "lowbias32" constants by Chris Wellons).
constexpr uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/// The key of one random stream: a 64-bit seed and a 32-bit stream id folded into 32 bits.
constexpr uint32_t stream_key(uint64_t seed, uint32_t stream) {
    return mix32(mix32(mix32((uint32_t)seed ^ 0x9e3779b9U) ^ (uint32_t)(seed >> 32)) ^ stream);
}

/// The index-th 32 random bits of a stream.
constexpr uint32_t bits(uint32_t key, uint32_t index) { return mix32(index ^ mix32(key + index)); }

/// Uniform in [0, 1) with 24 bits: exactly representable as float.
inline float uniform(uint32_t key, uint32_t index) {
    return (float)(bits(key, index) >> 8) * (1.0f / 16777216.0f);
}

}  // namespace netc::random
