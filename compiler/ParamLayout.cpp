#include "compiler/ParamLayout.h"

#include "dsl/Error.h"

#include <algorithm>
#include <unordered_set>

namespace netc {

namespace {

constexpr int64_t alignment = 16;  // floats: one cache line, one AVX-512 vector

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

ParamLayout layout_params(const Graph &graph) {
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
            e.offset = (layout.total + alignment - 1) / alignment * alignment;
            layout.total = e.offset + e.size;
            if (e.trainable()) layout.trainable += e.size;
            internal_assert(names.insert(e.name).second);
            layout.entries.push_back(std::move(e));
        }
    }
    layout.total = (layout.total + alignment - 1) / alignment * alignment;
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
