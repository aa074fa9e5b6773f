// prelu: y = x > 0 ? x : a_c * x with a learned slope per channel (torch.nn.PReLU).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_prelu() {
    static const OpDef def = {
        "prelu", "leaky ReLU with a learned slope per channel", 1, 1,
        {
            float_attr("init", 0.25, Range::any(), "initial slope"),
            bool_attr("shared", false, "one slope for all channels instead of one per channel"),
        },
        same_shape,
        [](const Node &node, const std::vector<Shape> &in) {
            int64_t n = node.attrs.get_bool("shared") ? 1 : channels_of(in[0]);
            Initializer init{Initializer::Kind::Constant, node.attrs.get_float("init")};
            return std::vector<ParamSpec>{{"weight", Shape{{n}}, init, ParamRole::Slope}};
        },
    };
    return def;
}

}  // namespace netc
