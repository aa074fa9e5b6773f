// add: elementwise sum of two or more values of one shape (residual connections).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_add() {
    static const OpDef def = {
        "add", "elementwise sum of values of the same shape", 2, -1, {},
        [](const Node &, const std::vector<Shape> &in, std::string &error)
            -> std::optional<Shape> {
            for (size_t i = 1; i < in.size(); i++) {
                if (in[i] != in[0]) {
                    error = "add expects inputs of one shape; input 1 is " + in[0].str() +
                            " but input " + std::to_string(i + 1) + " is " + in[i].str();
                    return std::nullopt;
                }
            }
            return in[0];
        }};
    return def;
}

}  // namespace netc
