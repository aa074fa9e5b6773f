// maxpool: the maximum over each window (torch.nn.MaxPool2d); padding never wins.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_maxpool() {
    static const OpDef def = {
        "maxpool", "maximum over square windows", 1, 1, pool_window_attrs(), pool_shape};
    return def;
}

}  // namespace netc
