#include "compiler/InferShapes.h"

#include "compiler/ops/Op.h"
#include "dsl/Error.h"

namespace netc {

namespace {

/// Values larger than this per sample are almost certainly a mistake (and would overflow
/// 32-bit buffer extents in the generated code).
constexpr int64_t max_elements = int64_t(1) << 30;

/// Shape::elements(), saturating instead of overflowing for absurd sizes (kernel=2000000000).
int64_t saturating_elements(const Shape &s) {
    int64_t n = 1;
    for (int64_t d : s.dims) {
        if (d != 0 && n > INT64_MAX / d) return INT64_MAX;
        n *= d;
    }
    return n;
}

}  // namespace

bool infer_shapes(Graph &graph, Diagnostics &diags) {
    internal_assert(!graph.nodes.empty() && graph.nodes[0].op->name == std::string("input"));
    graph.nodes[0].shape = graph.input;
    for (size_t i = 1; i < graph.nodes.size(); i++) {
        Node &node = graph.nodes[i];
        std::vector<Shape> inputs;
        for (int id : node.inputs) {
            internal_assert(id >= 0 && id < (int)i);
            inputs.push_back(graph.nodes[id].shape);
        }
        std::string error;
        std::optional<Shape> shape = node.op->infer_shape(node, inputs, error);
        if (!shape) {
            internal_assert(!error.empty());
            diags.error(node.loc, "layer '" + node.name + "' (" + node.op->name + "): " + error);
            return false;
        }
        if (saturating_elements(*shape) > max_elements) {
            diags.error(node.loc, "layer '" + node.name + "' (" + node.op->name + ") produces " +
                                      shape->str() + " per sample, more than 2^30 elements");
            return false;
        }
        node.shape = *shape;
        for (const ParamSpec &p :
             node.op->params ? node.op->params(node, inputs) : std::vector<ParamSpec>{}) {
            if (saturating_elements(p.shape) > max_elements) {
                diags.error(node.loc, "layer '" + node.name + "' (" + node.op->name + ") needs a " +
                                          p.suffix + " of " + p.shape.list_str() +
                                          ", more than 2^30 elements");
                return false;
            }
        }
    }
    const Node &out = graph.output();
    if (out.shape != Shape{{graph.classes}}) {
        diags.error(
            out.loc,
            "the last layer '" + out.name + "' must produce one score per class, " +
                std::to_string(graph.classes) + ", but produces " + out.shape.str() +
                (out.shape.rank() == 1
                     ? "; end the model with dense(units=" + std::to_string(graph.classes) + ")"
                     : "; flatten and end with dense(units=" + std::to_string(graph.classes) +
                           ")"));
        return false;
    }
    return true;
}

}  // namespace netc
