// layernorm: normalizes each sample over all its elements, then applies an elementwise scale
// and shift of the sample's shape (torch.nn.LayerNorm(normalized_shape = per-sample shape)).
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

std::vector<ParamSpec> layernorm_params(const Node &node, const std::vector<Shape> &in) {
    std::vector<ParamSpec> p;
    if (node.attrs.get_bool("affine")) {
        p.push_back({"weight", in[0], {Initializer::Kind::Ones, 0}, ParamRole::Norm});
        p.push_back({"bias", in[0], {Initializer::Kind::Zeros, 0}, ParamRole::Norm});
    }
    return p;
}

// y = (x - mean_n) / sqrt(var_n + eps) * w[c, y, x] + b[c, y, x], statistics over one sample
OpLowering lower_layernorm(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.node.shape;
    bool image = s.rank() == 3;
    const Func &in = ctx.inputs[0];
    RDom r = image ? RDom(0, (int)s.dims[0], 0, (int)s.dims[2], 0, (int)s.dims[1], ctx.name("r"))
                   : RDom(0, (int)s.dims[0], ctx.name("r"));
    auto at = [&](Expr n) { return image ? in(r[0], r[1], r[2], n) : in(r[0], n); };
    float count = (float)s.elements();
    Func mean(ctx.name("mean")), var(ctx.name("var")), inv_std(ctx.name("inv_std"));
    mean(d.n) = sum(at(d.n)) / count;
    var(d.n) = sum((at(d.n) - mean(d.n)) * (at(d.n) - mean(d.n))) / count;
    inv_std(d.n) = 1.0f / sqrt(var(d.n) + (float)ctx.attr_float("eps"));
    bool affine = ctx.has_param("weight");
    OpLowering l = lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &v) {
        Expr n = v.back();
        Expr normalized = (x - mean(n)) * inv_std(n);
        if (!affine) return normalized;
        std::vector<Expr> torch_index =
            image ? std::vector<Expr>{v[0], v[2], v[1]} : std::vector<Expr>{v[0]};
        return normalized * ctx.param("weight", torch_index) + ctx.param("bias", torch_index);
    });
    l.stages = {mean, var, inv_std};
    l.saved = {{"mean", mean}, {"inv_std", inv_std}};
    l.reductions = {r};
    return l;
}

void schedule_layernorm(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    for (Func f : l.stages) f.compute_root().parallel(dims().n);
    schedule_elementwise(ctx, node, l);
}

}  // namespace

const OpDef &op_layernorm() {
    static const OpDef def = {
        .name = "layernorm",
        .summary = "per-sample normalization over all of a sample's elements",
        .attrs =
            {
                float_attr("eps", 1e-5, Range::above(0), "added to the variance"),
                bool_attr("affine", true, "learn an elementwise scale (weight) and shift (bias)"),
            },
        .infer_shape = same_shape,
        .params = layernorm_params,
        .lower = lower_layernorm,
        .schedule = schedule_layernorm,
    };
    return def;
}

}  // namespace netc
