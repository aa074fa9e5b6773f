// input: the graph's per-sample input image. Not written as a layer; `input CxHxW` in the model
// block creates it. Its lowering (NCHW images to the (c, x, y, n) layout) happens at the
// pipeline's edge, in compiler/LowerForward.cpp.
#include "compiler/Lower.h"

namespace netc {

namespace {

std::optional<Shape> input_shape(const Node &, const std::vector<Shape> &, std::string &) {
    return std::nullopt;  // infer_shapes sets the input's shape from the model block
}

}  // namespace

const OpDef &op_input() {
    static const OpDef def = {
        .name = "input",
        .summary = "the model's input",
        .min_inputs = 0,
        .max_inputs = 0,
        .infer_shape = input_shape,
        .user_visible = false,
        .schedule = schedule_elementwise,
        .flops = no_flops,
    };
    return def;
}

}  // namespace netc
