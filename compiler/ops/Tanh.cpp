// tanh: y = tanh(x), elementwise.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_tanh() {
    static const OpDef def = {"tanh", "hyperbolic tangent", 1, 1, {}, same_shape};
    return def;
}

}  // namespace netc
