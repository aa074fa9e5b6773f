// gelu: y = x * Phi(x), the Gaussian error linear unit (torch.nn.GELU), exact or tanh form.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_gelu() {
    static const OpDef def = {
        "gelu", "x * Phi(x), Phi the standard normal CDF", 1, 1,
        {enum_attr("approximate", "none", {"none", "tanh"},
                   "none: exact erf form; tanh: the tanh approximation")},
        same_shape};
    return def;
}

}  // namespace netc
