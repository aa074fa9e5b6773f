// batchnorm: normalizes each channel over the batch (and pixels), then scales and shifts
// (torch.nn.BatchNorm2d on CxHxW, BatchNorm1d on F). Running statistics follow
// running = (1 - momentum) * running + momentum * batch_statistic, as PyTorch does.
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> batchnorm_shape(const Node &, const std::vector<Shape> &in,
                                     std::string &error) {
    if (in[0].rank() != 1 && in[0].rank() != 3) {
        error = "batchnorm expects CxHxW or F, got " + in[0].str();
        return std::nullopt;
    }
    return in[0];
}

std::vector<ParamSpec> batchnorm_params(const Node &node, const std::vector<Shape> &in) {
    Shape c{{channels_of(in[0])}};
    std::vector<ParamSpec> p;
    if (node.attrs.get_bool("affine")) {
        p.push_back({"weight", c, {Initializer::Kind::Ones, 0}, ParamRole::Norm});
        p.push_back({"bias", c, {Initializer::Kind::Zeros, 0}, ParamRole::Norm});
    }
    p.push_back({"running_mean", c, {Initializer::Kind::Zeros, 0}, ParamRole::Buffer});
    p.push_back({"running_var", c, {Initializer::Kind::Ones, 0}, ParamRole::Buffer});
    return p;
}

// train: y = (x - mean_c) / sqrt(var_c + eps) * w_c + b_c, mean and (biased) var over (n, y, x)
// infer: the same with running_mean and running_var
OpLowering lower_batchnorm(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Shape &s = ctx.node.shape;
    float eps = (float)ctx.attr_float("eps");
    bool image = s.rank() == 3;
    const Func &in = ctx.inputs[0];
    OpLowering l;
    Func mean(ctx.name("mean")), var(ctx.name("var"));
    if (ctx.mode == Mode::Train) {
        RDom r = image ? RDom(0, (int)s.dims[2], 0, (int)s.dims[1], 0, ctx.batch, ctx.name("r"))
                       : RDom(0, ctx.batch, ctx.name("r"));
        auto at = [&](Expr c) {
            return image ? in(c, r[0], r[1], r[2]) : in(c, r[0]);
        };
        Expr count = cast<float>(image ? ctx.batch * (int)(s.dims[1] * s.dims[2]) : ctx.batch);
        Func sum_x(ctx.name("sum")), sum_sq(ctx.name("sum_sq"));
        sum_x(d.c) = 0.0f;
        sum_x(d.c) += at(d.c);
        mean(d.c) = sum_x(d.c) / count;
        // Two passes: the centred sum of squares does not cancel catastrophically.
        sum_sq(d.c) = 0.0f;
        sum_sq(d.c) += (at(d.c) - mean(d.c)) * (at(d.c) - mean(d.c));
        var(d.c) = sum_sq(d.c) / count;
        l.stages = {sum_x, mean, sum_sq, var};
        l.reductions = {r, r};
    } else {
        mean(d.c) = ctx.param("running_mean", {d.c});
        var(d.c) = ctx.param("running_var", {d.c});
        l.stages = {mean, var};
    }
    Func inv_std(ctx.name("inv_std")), scale(ctx.name("scale")), shift(ctx.name("shift"));
    inv_std(d.c) = 1.0f / sqrt(var(d.c) + eps);
    bool affine = ctx.has_param("weight");
    scale(d.c) = affine ? ctx.param("weight", {d.c}) * inv_std(d.c) : inv_std(d.c);
    shift(d.c) = (affine ? ctx.param("bias", {d.c}) : 0.0f) - mean(d.c) * scale(d.c);
    l.stages.insert(l.stages.end(), {inv_std, scale, shift});
    l.saved = {{"mean", mean}, {"var", var}, {"inv_std", inv_std}};
    l.out = lower_pointwise(ctx, [&](Expr x, const std::vector<Expr> &v) {
                return x * scale(v[0]) + shift(v[0]);
            }).out;
    return l;
}

void schedule_batchnorm(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    int width = ctx.vector_width;
    bool train = !l.reductions.empty();
    if (train) {
        // sum_x and sum_sq: accumulate whole channel vectors across the batch and pixels.
        for (int i : {0, 2}) {
            Func f = l.stages[i];
            const RDom &r = l.reductions[i / 2];
            f.compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf);
            std::vector<VarOrRVar> order = {d.c};
            for (int k = 0; k < r.dimensions(); k++) order.push_back(r[k]);
            f.update().reorder(order).vectorize(d.c, width, TailStrategy::GuardWithIf);
        }
    }
    Func shift = l.stages.back(), scale = l.stages[l.stages.size() - 2];
    scale.compute_root();
    shift.compute_root();
    schedule_elementwise(ctx, node, l);
}

}  // namespace

const OpDef &op_batchnorm() {
    static const OpDef def = {
        .name = "batchnorm",
        .summary = "per-channel normalization with batch statistics",
        .attrs =
            {
                float_attr("momentum", 0.1, Range::closed(0, 1),
                           "weight of the batch statistic in the running average"),
                float_attr("eps", 1e-5, Range::above(0), "added to the variance"),
                bool_attr("affine", true, "learn a per-channel scale (weight) and shift (bias)"),
            },
        .infer_shape = batchnorm_shape,
        .params = batchnorm_params,
        .lower = lower_batchnorm,
        .schedule = schedule_batchnorm,
    };
    return def;
}

}  // namespace netc
