// flatten: [C, H, W] -> [C*H*W] in C-major order (torch.flatten(x, 1)), so dense weights
// transfer to and from PyTorch unchanged.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_flatten() {
    static const OpDef def = {
        "flatten", "flattens CxHxW to C*H*W in PyTorch's order", 1, 1, {},
        [](const Node &, const std::vector<Shape> &in, std::string &) -> std::optional<Shape> {
            return Shape{{in[0].elements()}};
        }};
    return def;
}

}  // namespace netc
