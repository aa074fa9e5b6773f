// elu: y = x > 0 ? x : alpha * (exp(x) - 1), elementwise (torch.nn.ELU).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_elu() {
    static const OpDef def = {
        "elu", "x for x > 0, alpha * (exp(x) - 1) otherwise", 1, 1,
        {float_attr("alpha", 1.0, Range::above(0), "saturation value for negative inputs")},
        same_shape};
    return def;
}

}  // namespace netc
