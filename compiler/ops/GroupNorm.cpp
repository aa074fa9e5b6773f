// groupnorm: normalizes each sample over groups of channels (and their pixels), then scales and
// shifts per channel (torch.nn.GroupNorm).
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> groupnorm_shape(const Node &node, const std::vector<Shape> &in,
                                     std::string &error) {
    int64_t groups = node.attrs.get_int("groups");
    if (channels_of(in[0]) % groups != 0) {
        error = "groups=" + std::to_string(groups) + " does not divide the " +
                std::to_string(channels_of(in[0])) + " channels of the input " + in[0].str();
        return std::nullopt;
    }
    return in[0];
}

std::vector<ParamSpec> groupnorm_params(const Node &node, const std::vector<Shape> &in) {
    Shape c{{channels_of(in[0])}};
    std::vector<ParamSpec> p;
    if (node.attrs.get_bool("affine")) {
        p.push_back({"weight", c, {Initializer::Kind::Ones, 0}, ParamRole::Norm});
        p.push_back({"bias", c, {Initializer::Kind::Zeros, 0}, ParamRole::Norm});
    }
    return p;
}

// y = (x - mean_{g,n}) / sqrt(var_{g,n} + eps) * w_c + b_c, g = c / (C / groups)
OpLowering lower_groupnorm(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.node.shape;
    bool image = s.rank() == 3;
    int group_size = (int)(s.dims[0] / ctx.attr_int("groups"));
    int h = image ? (int)s.dims[1] : 1, w = image ? (int)s.dims[2] : 1;
    const Func &in = ctx.inputs[0];
    Var g("g");
    RDom r(0, group_size, 0, w, 0, h, ctx.name("r"));
    auto at = [&](Expr g, Expr n) {
        Expr c = g * group_size + r.x;
        return image ? in(c, r.y, r.z, n) : in(c, n);
    };
    float count = (float)(group_size * h * w);
    Func mean(ctx.name("mean")), var(ctx.name("var")), inv_std(ctx.name("inv_std"));
    mean(g, d.n) = sum(at(g, d.n)) / count;
    var(g, d.n) = sum((at(g, d.n) - mean(g, d.n)) * (at(g, d.n) - mean(g, d.n))) / count;
    inv_std(g, d.n) = 1.0f / sqrt(var(g, d.n) + (float)ctx.attr_float("eps"));
    bool affine = ctx.has_param("weight");
    OpLowering l = lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &v) {
        Expr group = v[0] / group_size, n = v.back();
        Expr normalized = (x - mean(group, n)) * inv_std(group, n);
        if (!affine) return normalized;
        return normalized * ctx.param("weight", {v[0]}) + ctx.param("bias", {v[0]});
    });
    l.stages = {mean, var, inv_std};
    l.saved = {{"mean", mean}, {"inv_std", inv_std}};
    l.reductions = {r};
    return l;
}

void schedule_groupnorm(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    for (Func f : l.stages) f.compute_root().parallel(dims().n);
    schedule_elementwise(ctx, node, l);
}

}  // namespace

const OpDef &op_groupnorm() {
    static const OpDef def = {
        .name = "groupnorm",
        .summary = "per-sample normalization over groups of channels",
        .attrs =
            {
                required_int_attr("groups", Range::at_least(1), "number of channel groups"),
                float_attr("eps", 1e-5, Range::above(0), "added to the variance"),
                bool_attr("affine", true, "learn a per-channel scale (weight) and shift (bias)"),
            },
        .infer_shape = groupnorm_shape,
        .params = groupnorm_params,
        .lower = lower_groupnorm,
        .schedule = schedule_groupnorm,
    };
    return def;
}

}  // namespace netc
