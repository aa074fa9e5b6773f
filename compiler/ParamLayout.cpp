#include "compiler/ParamLayout.h"

#include "dsl/Error.h"

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
    std::vector<const ParamEntry *> out;
    for (const ParamEntry &e : entries) {
        if (e.node == node) out.push_back(&e);
    }
    return out;
}

ParamLayout layout_params(const Graph &graph) {
    ParamLayout layout;
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
            internal_assert(!layout.find(e.name));
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
