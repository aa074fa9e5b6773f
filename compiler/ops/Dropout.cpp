// dropout: in training, zeroes each element with probability p and scales the rest by
// 1 / (1 - p) (inverted dropout, torch.nn.Dropout); the identity in inference.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_dropout() {
    static const OpDef def = {
        "dropout", "zeroes elements with probability p while training", 1, 1,
        {float_attr("p", 0.5, Range::closed_open(0, 1), "probability of dropping an element")},
        same_shape};
    return def;
}

}  // namespace netc
