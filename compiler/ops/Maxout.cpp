// maxout: y_c = max_k x_{c*pieces + k}, the maximum over groups of `pieces` consecutive
// channels (Goodfellow et al. 2013); C channels become C / pieces.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_maxout() {
    static const OpDef def = {
        "maxout", "maximum over groups of consecutive channels: C -> C / pieces", 1, 1,
        {required_int_attr("pieces", Range::at_least(2), "channels per group")},
        [](const Node &node, const std::vector<Shape> &in, std::string &error)
            -> std::optional<Shape> {
            int64_t pieces = node.attrs.get_int("pieces");
            Shape out = in[0];
            if (out.dims[0] % pieces != 0) {
                error = "maxout with pieces=" + std::to_string(pieces) +
                        " needs channels divisible by " + std::to_string(pieces) + ", got " +
                        in[0].str();
                return std::nullopt;
            }
            out.dims[0] /= pieces;
            return out;
        }};
    return def;
}

}  // namespace netc
