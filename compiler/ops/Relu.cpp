// relu: y = max(x, 0), elementwise.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_relu() {
    static const OpDef def = {"relu", "rectified linear unit max(x, 0)", 1, 1, {}, same_shape};
    return def;
}

}  // namespace netc
