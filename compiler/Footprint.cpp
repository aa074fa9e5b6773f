#include "compiler/Footprint.h"

#include "compiler/DeriveBackward.h"
#include "compiler/Optimizer.h"

namespace netc {

TrainFootprint train_footprint(const Graph &forward, const ParamLayout &layout, int64_t batch) {
    TrainFootprint f;
    const int64_t slots = optimizer_state_slots(forward.train.optimizer);
    f.arenas = (2 + slots) * layout.total * (int64_t)sizeof(float);
    const Graph train = op_without_backward(forward) ? forward : derive_backward(forward);
    for (const Node &node : train.nodes) {
        f.values += node.shape.elements() * (node.batched ? batch : 1) * (int64_t)sizeof(float);
    }
    return f;
}

}  // namespace netc
