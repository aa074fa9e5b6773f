#include "compiler/Summary.h"

#include "compiler/Footprint.h"
#include "compiler/Knn.h"
#include "compiler/ops/Op.h"

#include <fmt/format.h>

namespace netc {

namespace {

std::string with_commas(int64_t n) {
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); i++) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string bytes_string(int64_t bytes) {
    if (bytes < 10 * 1024) return std::to_string(bytes) + " B";
    if (bytes < 10 * 1024 * 1024) return fmt::format("{:.1f} KiB", bytes / 1024.0);
    if (bytes < int64_t(10) << 30) return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024.0));
    return fmt::format("{:.1f} GiB", bytes / (1024.0 * 1024.0 * 1024.0));
}

}  // namespace

std::string summary_table(const Graph &graph, const ParamLayout &layout) {
    std::string out = fmt::format("model {}: input {}, {} classes\n", graph.model,
                                  graph.input.str(), graph.classes);
    constexpr const char *row = "{:<20} {:<16} {:<14} {:>12} {:>14}\n";
    out += fmt::format(row, "layer", "op", "output", "parameters", "activations");
    out += std::string(80, '-') + "\n";
    int64_t activation_bytes = 0;
    for (const Node &node : graph.nodes) {
        int64_t params = 0;
        for (const ParamEntry *e : layout.of_node(node.id)) {
            if (e->trainable()) params += e->size;
        }
        int64_t bytes = node.shape.elements() * (int64_t)sizeof(float);
        activation_bytes += bytes;
        std::string inputs;
        if (node.inputs.size() > 1) {
            for (int id : node.inputs) inputs += (inputs.empty() ? "" : ",") + graph.nodes[id].name;
            inputs = "(" + inputs + ")";
        }
        out += fmt::format(row, node.name, node.op->name + inputs, node.shape.str(),
                           with_commas(params), bytes_string(bytes));
    }
    out += std::string(80, '-') + "\n";
    int64_t buffers = 0;
    for (const ParamEntry &e : layout.entries) {
        if (!e.trainable()) buffers += e.size;
    }
    out += fmt::format("total parameters: {}\n", with_commas(layout.trainable));
    out += fmt::format("non-trainable buffers: {} (batchnorm running statistics)\n",
                       with_commas(buffers));
    out += fmt::format("parameter arena: {} floats ({})\n", with_commas(layout.total),
                       bytes_string(layout.total * (int64_t)sizeof(float)));
    out += fmt::format("activations per sample: {}\n", bytes_string(activation_bytes));
    if (graph.is_knn()) {
        const Choice &knn = *graph.classifier;
        const int64_t features = knn_feature_count(graph);
        out += fmt::format("nearest neighbours: k = {}, {} distance, {} vote, over {} features "
                           "per sample ({} per stored training sample)\n",
                           knn.attrs.get_int("k"), knn.attrs.get_enum("distance"),
                           knn.attrs.get_enum("vote"), with_commas(features),
                           bytes_string(features * (int64_t)sizeof(float)));
        return out;
    }
    const int64_t batch = graph.train.batch;
    const TrainFootprint step = train_footprint(graph, layout, batch);
    out += fmt::format("training at batch {}: about {} ({} of arenas, {} of values)\n", batch,
                       bytes_string(step.total()), bytes_string(step.arenas),
                       bytes_string(step.values));
    return out;
}

}  // namespace netc
