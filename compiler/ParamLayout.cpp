#include "compiler/ParamLayout.h"

#include "dsl/Error.h"

#include <algorithm>
#include <unordered_set>

namespace netc {

namespace {

constexpr int64_t alignment = 16;  // floats: one cache line, one AVX-512 vector

/// The most floats the arena may hold, padding included: it is one buffer of the generated code,
/// indexed with int32 (Halide 14 without large_buffers), as are its offsets.
constexpr int64_t max_arena_floats = INT32_MAX;

int64_t aligned(int64_t offset) { return (offset + alignment - 1) / alignment * alignment; }

}  // namespace

const ParamEntry *ParamLayout::find(const std::string &name) const {
    for (const ParamEntry &e : entries) {
        if (e.name == name) return &e;
    }
    return nullptr;
}

std::vector<const ParamEntry *> ParamLayout::of_node(int node) const {
    // Entries are in graph order: a binary search keeps a summary of n layers O(n log n).
    auto begin = std::partition_point(entries.begin(), entries.end(),
                                      [node](const ParamEntry &e) { return e.node < node; });
    std::vector<const ParamEntry *> out;
    for (auto it = begin; it != entries.end() && it->node == node; ++it) out.push_back(&*it);
    return out;
}

std::optional<ParamLayout> layout_params(const Graph &graph, Diagnostics &diags) {
    ParamLayout layout;
    // Names seen so far, to assert that each is unique in constant time: a linear find() here
    // made the front end quadratic in the number of layers (issue 12).
    std::unordered_set<std::string> names;
    for (const Node &node : graph.nodes) {
        if (!node.op->params) continue;
        std::vector<Shape> inputs;
        for (int id : node.inputs) inputs.push_back(graph.nodes[id].shape);
        for (const ParamSpec &p : node.op->params(node, inputs)) {
            ParamEntry e;
            e.name = node.name + "." + p.suffix;
            e.node = node.id;
            e.suffix = p.suffix;
            e.shape = p.shape;
            e.size = p.shape.elements();
            e.init = p.init;
            e.role = p.role;
            e.offset = aligned(layout.total);
            layout.total = e.offset + e.size;
            if (aligned(layout.total) > max_arena_floats) {
                // Each tensor is at most 2^30 floats (infer_shapes), so the sum cannot overflow.
                diags.error(node.loc, "layer '" + node.name + "' (" + node.op->name + "): its " +
                                          p.suffix + " " + p.shape.list_str() +
                                          " takes the parameter arena to " +
                                          std::to_string(aligned(layout.total)) +
                                          " floats, more than 2147483647 (2^31 - 1), the most "
                                          "it can index; the model has too many parameters");
                return std::nullopt;
            }
            if (e.trainable()) layout.trainable += e.size;
            internal_assert(names.insert(e.name).second);
            layout.entries.push_back(std::move(e));
        }
    }
    layout.total = aligned(layout.total);
    return layout;
}

std::string dump(const ParamLayout &layout) {
    std::string out;
    for (const ParamEntry &e : layout.entries) {
        out += e.name + " " + e.shape.list_str() + " offset " + std::to_string(e.offset) +
               (e.trainable() ? "" : " (buffer)") + "\n";
    }
    out += "total " + std::to_string(layout.total) + " floats, " +
           std::to_string(layout.trainable) + " trainable\n";
    return out;
}

}  // namespace netc
