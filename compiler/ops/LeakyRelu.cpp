// leaky_relu: y = x > 0 ? x : alpha * x, elementwise (torch.nn.LeakyReLU).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_leaky_relu() {
    static const OpDef def = {
        "leaky_relu", "x for x > 0, alpha * x otherwise", 1, 1,
        {float_attr("alpha", 0.01, Range::at_least(0), "slope for negative inputs")},
        same_shape};
    return def;
}

}  // namespace netc
