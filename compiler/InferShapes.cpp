#include "compiler/InferShapes.h"

#include "compiler/ops/Op.h"
#include "dsl/Error.h"

#include <cstdio>

namespace netc {

namespace {

/// Values larger than this per sample are almost certainly a mistake (and would overflow
/// 32-bit buffer extents in the generated code).
constexpr int64_t max_elements = int64_t(1) << 30;

/// The most elements a buffer of the generated code may hold: Halide 14 (without its
/// large_buffers feature) indexes buffers with int32, so a batch's tensor (the per-sample
/// elements times the batch) must stay within it.
constexpr int64_t max_buffer_elements = INT32_MAX;

/// The most the forward activations of one training batch may take, all layers together (the
/// backward pass keeps as much again in gradients). docs/language.md "Limits" says it.
constexpr int64_t max_activation_bytes = int64_t(64) << 30;

/// Shape::elements(), saturating instead of overflowing for absurd sizes (kernel=2000000000).
int64_t saturating_elements(const Shape &s) {
    int64_t n = 1;
    for (int64_t d : s.dims) {
        if (d != 0 && n > INT64_MAX / d) return INT64_MAX;
        n *= d;
    }
    return n;
}

/// a * b for non-negative a and b, saturating at INT64_MAX.
int64_t saturating_mul(int64_t a, int64_t b) {
    if (a != 0 && b > INT64_MAX / a) return INT64_MAX;
    return a * b;
}

std::string gib(int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", (double)bytes / (double)(int64_t(1) << 30));
    return buf;
}

/// Reports a value whose batch tensor, or the activations so far, exceed the limits above.
class BatchLimits {
public:
    BatchLimits(const Graph &graph, Diagnostics &diags) : graph_(graph), diags_(diags) {}

    /// Adds `node`'s value (its shape set) for the train block's batch. False after an error.
    bool add(const Node &node) {
        const int64_t batch = graph_.train.batch;
        const int64_t per_sample = saturating_elements(node.shape);
        const int64_t elements = saturating_mul(per_sample, batch);
        const std::string layer = node.op->name == std::string("input")
                                      ? std::string("the input")
                                      : "layer '" + node.name + "' (" + node.op->name + ")";
        if (elements > max_buffer_elements) {
            const int64_t fits = max_buffer_elements / per_sample;
            const std::string what = node.id == 0 ? "the input" : "the layer";
            diags_.error(node.loc,
                         layer + " produces " + std::to_string(per_sample) +
                             " elements per sample, " + std::to_string(elements) +
                             " for a batch of " + std::to_string(batch) +
                             ": more than 2147483647 (2^31 - 1), the most elements a buffer can "
                             "index; " +
                             (fits >= 1 ? "lower the train block's 'batch' to " +
                                              std::to_string(fits) + " or less, or shrink " + what
                                        : "shrink " + what));
            return false;
        }
        bytes_ = saturating_mul(elements, (int64_t)sizeof(float)) + bytes_;
        if (bytes_ > max_activation_bytes) {
            diags_.error(node.loc, "the activations of one batch of " + std::to_string(batch) +
                                       " reach " + gib(bytes_) + " at " + layer +
                                       ", more than the 64 GiB a model may use; lower the "
                                       "train block's 'batch' or shrink the layers");
            return false;
        }
        return true;
    }

private:
    const Graph &graph_;
    Diagnostics &diags_;
    int64_t bytes_ = 0;  // the activations of the nodes added so far, for one batch
};

}  // namespace

bool infer_shapes(Graph &graph, Diagnostics &diags) {
    internal_assert(!graph.nodes.empty() && graph.nodes[0].op->name == std::string("input"));
    graph.nodes[0].shape = graph.input;
    BatchLimits limits(graph, diags);
    if (!limits.add(graph.nodes[0])) return false;
    // The first trained layer each value depends on (-1: none), for feature ops, which pass no
    // gradient back.
    std::vector<int> trained_before(graph.nodes.size(), -1);
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
        if (!limits.add(node)) return false;
        for (int id : node.inputs) {
            if (trained_before[i] < 0) trained_before[i] = trained_before[id];
        }
        if (!node.op->input_gradient && trained_before[i] >= 0) {
            const Node &trained = graph.nodes[trained_before[i]];
            diags.error(node.loc, "layer '" + node.name + "' (" + node.op->name +
                                      ") passes no gradient to its input, but '" + trained.name +
                                      "' (" + trained.op->name +
                                      ") before it has trained parameters; compute features "
                                      "from the input or from layers without parameters");
            return false;
        }
        for (const ParamSpec &p :
             node.op->params ? node.op->params(node, inputs) : std::vector<ParamSpec>{}) {
            if (saturating_elements(p.shape) > max_elements) {
                diags.error(node.loc, "layer '" + node.name + "' (" + node.op->name + ") needs a " +
                                          p.suffix + " of " + p.shape.list_str() +
                                          ", more than 2^30 elements");
                return false;
            }
            if (p.role != ParamRole::Buffer && trained_before[i] < 0) trained_before[i] = (int)i;
            if (graph.is_knn()) {
                diags.error(node.loc, "layer '" + node.name + "' (" + node.op->name +
                                          ") has parameters, but a kNN model trains nothing: "
                                          "its layers compute fixed features, such as flatten, "
                                          "avgpool, hog or color_histogram");
                diags.note(graph.classifier->loc, "the model classifies by neighbours here");
                return false;
            }
        }
    }
    if (graph.is_knn()) return true;  // any feature shape: compiler/Knn.h flattens it
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
