// input: the graph's per-sample input image. Not written as a layer; `input CxHxW` in the model
// block creates it, and its shape is the model's input shape.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_input() {
    static const OpDef def = {
        "input", "the model's input", 0, 0, {},
        [](const Node &, const std::vector<Shape> &, std::string &) -> std::optional<Shape> {
            return std::nullopt;  // infer_shapes sets the input's shape from the model block
        },
        nullptr, /*user_visible=*/false};
    return def;
}

}  // namespace netc
