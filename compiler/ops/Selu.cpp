// selu: y = scale * (x > 0 ? x : alpha * (exp(x) - 1)), scale = 1.0507..., alpha = 1.6732... (torch.nn.SELU).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_selu() {
    static const OpDef def = {"selu", "scaled ELU with the self-normalizing constants", 1, 1, {}, same_shape};
    return def;
}

}  // namespace netc
