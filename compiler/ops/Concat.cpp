// concat: joins values along the channel axis (torch.cat(xs, dim=1)).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_concat() {
    static const OpDef def = {
        "concat", "joins values along the channel axis", 2, -1, {},
        [](const Node &, const std::vector<Shape> &in, std::string &error)
            -> std::optional<Shape> {
            Shape out = in[0];
            for (size_t i = 1; i < in.size(); i++) {
                Shape a = in[0], b = in[i];
                if (a.rank() != b.rank() ||
                    !std::equal(a.dims.begin() + 1, a.dims.end(), b.dims.begin() + 1)) {
                    error = "concat expects inputs that differ only in channels; input 1 is " +
                            a.str() + " but input " + std::to_string(i + 1) + " is " + b.str();
                    return std::nullopt;
                }
                out.dims[0] += b.dims[0];
            }
            return out;
        }};
    return def;
}

}  // namespace netc
