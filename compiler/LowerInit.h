#pragma once
// Pass: the parameter arena's initial values as a Halide Func, from each tensor's declared
// initializer and a 64-bit seed. Each value is a pure function of (seed, tensor name, index)
// through the counter-based generator in compiler/Random.h: the same seed gives the same bits
// whatever the thread count, and adding a layer does not change the others' values.

#include "compiler/ParamLayout.h"

#include <Halide.h>

namespace netc {

struct InitFunc {
    Halide::Func arena;                // arena(i) for i in [0, layout.total)
    std::vector<Halide::RDom> ranges;  // update k fills layout.entries[k] over ranges[k]
};

/// `seed_lo` and `seed_hi` are the seed's uint32 halves.
InitFunc lower_init(const ParamLayout &layout, const Halide::Expr &seed_lo,
                    const Halide::Expr &seed_hi);

/// fan-in and fan-out of a weight tensor in torch layout ([out, in] or [out, in, kh, kw]).
void fans(const Shape &shape, int64_t &fan_in, int64_t &fan_out);

/// The stream id of a tensor: FNV-1a of its name.
uint32_t init_stream(const std::string &tensor_name);

}  // namespace netc
