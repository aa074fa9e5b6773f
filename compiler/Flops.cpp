#include "compiler/Flops.h"

#include "compiler/DeriveBackward.h"
#include "compiler/ops/Op.h"
#include "dsl/Error.h"

#include <map>
#include <string>

namespace netc {

namespace {

/// Arithmetic per parameter of one update, counted from the formulas in compiler/Settings.cpp
/// (sgd: w -= lr * g is a multiply and a subtract).
double update_flops_per_param(const Graph &graph) {
    static const std::map<std::string, double> optimizers = {
        {"sgd", 2},     {"momentum", 4}, {"nesterov", 6}, {"adagrad", 6},
        {"rmsprop", 8}, {"adam", 12},    {"adamw", 14},
    };
    auto it = optimizers.find(graph.train.optimizer.name);
    if (it == optimizers.end())
        internal_error("no FLOP count for optimizer " + graph.train.optimizer.name);
    return it->second + (graph.regularizer ? 2 : 0);  // lambda * w added to the gradient
}

}  // namespace

double count_flops(const Graph &graph, int64_t batch) {
    double total = 0;
    for (const Node &node : graph.nodes) {
        if (!node.op->flops)
            internal_error(std::string("op ") + node.op->name + " has no FLOP rule");
        total += node.op->flops(graph, node, batch);
    }
    return total;
}

double count_train_step_flops(const Graph &forward, int64_t batch) {
    Graph train = derive_backward(forward);
    double params = 0;
    for (const auto &[name, id] : train.param_grads)
        params += (double)train.nodes[id].shape.elements();
    return count_flops(train, batch) + params * update_flops_per_param(train);
}

}  // namespace netc
