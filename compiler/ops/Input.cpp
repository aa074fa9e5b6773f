// input: the graph's per-sample input image. Not written as a layer; `input CxHxW` in the model
// block creates it. Its lowering (NCHW images to the (c, x, y, n) layout) happens at the
// pipeline's edge, in compiler/LowerForward.cpp.
#include "compiler/Lower.h"

namespace netc {

namespace {

std::optional<Shape> input_shape(const Node &, const std::vector<Shape> &, std::string &) {
    return std::nullopt;  // infer_shapes sets the input's shape from the model block
}

// The (c, x, y, n) view of the NCHW rows is an index computation, not a copy, wherever its
// readers do not take vectors along the channels: an image's channels are fewer than a vector,
// so they take pixels or broadcasts. LeNet-5's 1-channel input (2-core Zen 5, batch 64): 0.29 ms
// of a 7 ms train step copying it on half a thread. With channels enough to vectorize, one copy,
// so that convolutions read them contiguously.
void schedule_input(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    if (node.shape.dims[0] < ctx.vector_width && !ctx.is_output) return;  // inline
    schedule_root(ctx, l.out, node.shape);
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
        .schedule = schedule_input,
        .flops = no_flops,
    };
    return def;
}

}  // namespace netc
