// sigmoid: y = 1 / (1 + exp(-x)), elementwise.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_sigmoid() {
    static const OpDef def = {"sigmoid", "logistic sigmoid 1 / (1 + exp(-x))", 1, 1, {}, same_shape};
    return def;
}

}  // namespace netc
