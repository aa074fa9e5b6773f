// dense: y = x W^T + b, a fully connected layer (torch.nn.Linear).
#include "compiler/Lower.h"

namespace netc {

using namespace Halide;

namespace {

std::optional<Shape> dense_shape(const Node &node, const std::vector<Shape> &in,
                                 std::string &error) {
    if (in[0].rank() != 1) {
        error = "dense expects a flat input F, got " + in[0].str() +
                "; insert 'flatten' (or 'global_avgpool') before it";
        return std::nullopt;
    }
    return Shape{{node.attrs.get_int("units")}};
}

std::vector<ParamSpec> dense_params(const Node &node, const std::vector<Shape> &in) {
    int64_t units = node.attrs.get_int("units");
    std::vector<ParamSpec> p = {
        {"weight", Shape{{units, in[0].dims[0]}}, node.attrs.get_init("init"), ParamRole::Weight}};
    if (node.attrs.get_bool("bias")) {
        p.push_back({"bias", Shape{{units}}, node.attrs.get_init("bias_init"), ParamRole::Bias});
    }
    return p;
}

// out(c, n) = sum_i W[c, i] * in(i, n) + b[c]
OpLowering lower_dense(const LowerCtx &ctx) {
    const Dims &d = dims();
    int inputs = (int)ctx.input_shape().dims[0];
    Var i("i");
    Func weight_t(ctx.name("weight_t"));  // W transposed: output units innermost, to vectorize
    weight_t(d.c, i) = ctx.param("weight", {d.c, i});
    RDom r(0, inputs, ctx.name("r"));
    Func acc(ctx.name("acc"));
    acc(d.c, d.n) = ctx.has_param("bias") ? ctx.param("bias", {d.c}) : 0.0f;
    acc(d.c, d.n) += weight_t(d.c, r) * ctx.inputs[0](r, d.n);
    Func out(ctx.node.name);
    out(d.c, d.n) = acc(d.c, d.n);
    return {out, {weight_t, acc}, {}, {r}};
}

void schedule_dense(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    const Dims &d = dims();
    Func weight_t = l.stages[0], acc = l.stages[1];
    int width = ctx.vector_width;
    weight_t.compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf);
    schedule_root(ctx, l.out, node.shape);
    acc.compute_at(l.out, d.n).vectorize(d.c, width, TailStrategy::GuardWithIf);
    RVar r = l.reductions[0].x;
    acc.update().reorder(d.c, r, d.n).vectorize(d.c, width, TailStrategy::GuardWithIf);
}

}  // namespace

const OpDef &op_dense() {
    static const OpDef def = {
        .name = "dense",
        .summary = "fully connected layer: y = x W^T + b",
        .attrs = with_weight_attrs({
            required_int_attr("units", Range::at_least(1), "number of outputs"),
            bool_attr("bias", true, "add a learned bias"),
        }),
        .infer_shape = dense_shape,
        .params = dense_params,
        .lower = lower_dense,
        .schedule = schedule_dense,
    };
    return def;
}

}  // namespace netc
