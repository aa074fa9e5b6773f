#pragma once
// The random numbers the runtime uses for shuffling, validation splits and augmentation. Every
// draw is specified bit for bit here (no std::uniform_int_distribution, no std::shuffle, whose
// results differ between standard libraries), so the same seed gives the same order and the same
// augmented pixels on every machine and with any thread count.
//
// The generator is splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
// generators", 2014): output i of a stream is mix64(start + (i + 1) * golden_gamma), so a stream
// is a pure function of its start, which derive() makes from a seed and counters such as
// (epoch) or (step, sample, operation).

#include <cstdint>

namespace netc::runtime::random {

constexpr uint64_t golden_gamma = 0x9e3779b97f4a7c15ULL;

/// splitmix64's output function: a bijective 64-bit mixer.
constexpr uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// The start of a sub-stream of `key` numbered `counter`: derive(derive(seed, epoch), batch)...
constexpr uint64_t derive(uint64_t key, uint64_t counter) {
    return mix64(key ^ mix64(counter + golden_gamma));
}

/// Stream ids, so that shuffling, the validation split and augmentation never share numbers.
enum Stream : uint64_t {
    ShuffleStream = 0x5348554646ULL,  // "SHUFF"
    SplitStream = 0x53504c4954ULL,    // "SPLIT"
    AugmentStream = 0x4155474dULL,    // "AUGM"
    FoldStream = 0x464f4c44ULL,       // "FOLD": cross-validation folds
};

class SplitMix64 {
public:
    explicit SplitMix64(uint64_t start) : state_(start) {}

    uint64_t next() {
        state_ += golden_gamma;
        return mix64(state_);
    }

    /// Uniform in [0, n), n > 0, without modulo bias: Lemire's multiply-shift with rejection
    /// ("Fast random integer generation in an interval", 2019).
    uint64_t below(uint64_t n) {
        uint64_t x = next();
        unsigned __int128 m = (unsigned __int128)x * n;
        uint64_t low = (uint64_t)m;
        if (low < n) {
            const uint64_t threshold = (0 - n) % n;
            while (low < threshold) {
                x = next();
                m = (unsigned __int128)x * n;
                low = (uint64_t)m;
            }
        }
        return (uint64_t)(m >> 64);
    }

    /// Uniform in [0, 1) with 24 bits, exactly representable as a float.
    float uniform() { return (float)(next() >> 40) * (1.0f / 16777216.0f); }

    /// Uniform in [lo, hi).
    float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }

private:
    uint64_t state_;
};

}  // namespace netc::runtime::random
