#include "compiler/Flops.h"

#include "compiler/TrainPasses.h"
#include "compiler/ops/Op.h"
#include "dsl/Error.h"

#include <string>

namespace netc {

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
    return count_flops(derive_training(forward), batch);
}

}  // namespace netc
