// maxout: y_c = max_k x_{c*pieces + k}, the maximum over groups of `pieces` consecutive
// channels (Goodfellow et al. 2013); C channels become C / pieces.
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> maxout_shape(const Node &node, const std::vector<Shape> &in,
                                  std::string &error) {
    int64_t pieces = node.attrs.get_int("pieces");
    Shape out = in[0];
    if (out.dims[0] % pieces != 0) {
        error = "maxout with pieces=" + std::to_string(pieces) + " needs channels divisible by " +
                std::to_string(pieces) + ", got " + in[0].str();
        return std::nullopt;
    }
    out.dims[0] /= pieces;
    return out;
}

// out(c, ...) = max_k in(c * pieces + k, ...)
OpLowering lower_maxout(const LowerCtx &ctx) {
    int pieces = (int)ctx.attr_int("pieces");
    std::vector<Var> v = value_vars(ctx.node.shape);
    std::vector<Expr> args(v.begin(), v.end());
    Expr best;
    for (int k = 0; k < pieces; k++) {
        args[0] = v[0] * pieces + k;
        Expr piece = ctx.inputs[0](args);
        best = best.defined() ? max(best, piece) : piece;
    }
    Func out(ctx.node.name);
    out(v) = best;
    return {out, {}, {}, {}};
}

void schedule_maxout(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    schedule_root(ctx, l.out, node.shape);
}

}  // namespace

const OpDef &op_maxout() {
    static const OpDef def = {
        .name = "maxout",
        .summary = "maximum over groups of consecutive channels: C -> C / pieces",
        .attrs = {required_int_attr("pieces", Range::at_least(2), "channels per group")},
        .infer_shape = maxout_shape,
        .lower = lower_maxout,
        .schedule = schedule_maxout,
    };
    return def;
}

}  // namespace netc
