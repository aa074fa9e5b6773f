#pragma once
// Pass: lays every parameter tensor out in one flat float arena. Names and shapes follow
// torch.nn (`conv1.weight [32, 1, 3, 3]`), so checkpoints move to and from PyTorch. Optimizer
// state lives in arenas with this same layout.

#include "compiler/Graph.h"
#include "compiler/ops/Op.h"
#include "dsl/Diagnostics.h"

#include <optional>
#include <string>
#include <vector>

namespace netc {

struct ParamEntry {
    std::string name;    // "conv1.weight"
    int node = 0;        // the node that owns it
    std::string suffix;  // "weight"
    Shape shape;         // torch layout
    int64_t offset = 0;  // in floats from the start of the arena
    int64_t size = 0;    // shape.elements()
    Initializer init;
    ParamRole role = ParamRole::Weight;
    bool trainable() const { return role != ParamRole::Buffer; }
};

struct ParamLayout {
    std::vector<ParamEntry> entries;  // in graph order
    int64_t total = 0;                // floats in the arena, buffers included
    int64_t trainable = 0;            // floats that are trained (the "total parameters" figure)

    /// The entry with this name, or null.
    const ParamEntry *find(const std::string &name) const;
    /// Entries owned by one node, in the op's order.
    std::vector<const ParamEntry *> of_node(int node) const;
};

/// Offsets are aligned to 16 floats (64 bytes) so every tensor starts on a cache line and an
/// AVX-512 vector boundary; the padding is part of `total`. The arena is one buffer indexed with
/// int32, so `total` is at most 2^31 - 1 floats: a larger model is reported at the layer whose
/// tensor crosses it, and the result is empty.
std::optional<ParamLayout> layout_params(const Graph &graph, Diagnostics &diags);

/// "name offset shape" per entry, for dumps and tests.
std::string dump(const ParamLayout &layout);

}  // namespace netc
