// layernorm: normalizes each sample over all its elements, then applies an elementwise scale
// and shift of the sample's shape (torch.nn.LayerNorm(normalized_shape = per-sample shape)).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_layernorm() {
    static const OpDef def = {
        "layernorm", "per-sample normalization over all of a sample's elements", 1, 1,
        {
            float_attr("eps", 1e-5, Range::above(0), "added to the variance"),
            bool_attr("affine", true, "learn an elementwise scale (weight) and shift (bias)"),
        },
        same_shape,
        [](const Node &node, const std::vector<Shape> &in) {
            std::vector<ParamSpec> p;
            if (node.attrs.get_bool("affine")) {
                p.push_back({"weight", in[0], {Initializer::Kind::Ones, 0}, ParamRole::Norm});
                p.push_back({"bias", in[0], {Initializer::Kind::Zeros, 0}, ParamRole::Norm});
            }
            return p;
        },
    };
    return def;
}

}  // namespace netc
