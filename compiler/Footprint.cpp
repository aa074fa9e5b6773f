#include "compiler/Footprint.h"

#include "compiler/DeriveBackward.h"
#include "compiler/Optimizer.h"
#include "compiler/TrainPasses.h"

namespace netc {

TrainFootprint train_footprint(const Graph &forward, const ParamLayout &layout, int64_t batch) {
    TrainFootprint f;
    const int64_t slots = optimizer_state_slots(forward.train.optimizer);
    f.arenas = (2 + slots) * layout.total * (int64_t)sizeof(float);
    // A kNN model trains nothing: its step is the forward pass (its reference set is data).
    const Graph train =
        forward.is_knn() || op_without_backward(forward) ? forward : derive_training(forward);
    for (const Node &node : train.nodes) {
        // The training nodes without a batch are scalars, or a tensor's values that the gradient
        // and parameter arenas (counted above) hold.
        if (train.has_training() && node.id >= train.sample_loss && !node.batched) continue;
        f.values += node.shape.elements() * (node.batched ? batch : 1) * (int64_t)sizeof(float);
    }
    return f;
}

}  // namespace netc
