#include "compiler/TrainPasses.h"

#include "compiler/DeriveBackward.h"
#include "compiler/Loss.h"
#include "compiler/Lower.h"
#include "compiler/LowerTrain.h"
#include "compiler/LrSchedule.h"
#include "compiler/Settings.h"
#include "dsl/Error.h"

#include <algorithm>
#include <map>

namespace netc {

using namespace Halide;

RegCoefficients regularization_of(const Graph &graph, const Node &layer, ParamRole role) {
    if (!graph.regularizer || role == ParamRole::Buffer) return {};
    const Choice &reg = *graph.regularizer;
    bool applies =
        role == ParamRole::Weight || (role == ParamRole::Bias && reg.attrs.get_bool("biases")) ||
        ((role == ParamRole::Norm || role == ParamRole::Slope) && reg.attrs.get_bool("norms"));
    if (!applies) return {};
    double strength = layer.attrs.has("regularize") ? layer.attrs.get_float("regularize")
                                                    : reg.attrs.get_float("strength");
    if (reg.name == "l2") return {0, strength};
    if (reg.name == "l1") return {strength, 0};
    internal_assert(reg.name == "elastic_net");
    double ratio = reg.attrs.get_float("l1_ratio");
    return {strength * ratio, strength * (1 - ratio)};
}

namespace {

// The ops of the training nodes. Their values are scalars or tensors without a batch, read once
// per step: the scalars are computed at root, the per-tensor values inline into the gradient
// arena (as one expression with the gradient they add to).

void schedule_at_root(const ScheduleCtx &, const Node &, OpLowering &l) {
    Func(l.out).compute_root();
}
void schedule_inline(const ScheduleCtx &, const Node &, OpLowering &) {}

/// `per_element` operations on each element of an unbatched value (a tensor, once a step).
template <int per_element>
double per_tensor_element_flops(const Graph &, const Node &node, int64_t) {
    return (double)per_element * (double)node.shape.elements();
}

// sample_loss: (n), the loss setting of each sample (compiler/Loss.h)
OpLowering lower_sample_loss(const LowerCtx &ctx) {
    return {lower_loss(ctx.graph, ctx.inputs[0], ctx.labels), {}, {}, {}, {}};
}

/// About 4 per class and sample: the maximum, exp(s - max) and its sum, the label's term (softmax
/// cross-entropy); the margins, their max with 0 and their sum (svm).
double sample_loss_flops(const Graph &graph, const Node &, int64_t batch) {
    return 4.0 * (double)batch * (double)graph.classes;
}

const OpDef &op_sample_loss() {
    static const OpDef def = {
        .name = "sample_loss",
        .summary = "each sample's loss under the model's loss setting",
        .user_visible = false,
        .lower = lower_sample_loss,
        .schedule = schedule_at_root,
        .flops = sample_loss_flops,
    };
    return def;
}

// batch_mean: () = sum over the batch of x(n) / batch
OpLowering lower_batch_mean(const LowerCtx &ctx) {
    RDom rn(0, ctx.batch, ctx.name("n"));
    Func mean(ctx.node.name);
    mean() = sum(ctx.inputs[0](rn)) / cast<float>(ctx.batch);
    return {mean, {}, {}, {}, {}};
}

const OpDef &op_batch_mean() {
    static const OpDef def = {
        .name = "batch_mean",
        .summary = "the mean of a per-sample scalar over the batch",
        .user_visible = false,
        .lower = lower_batch_mean,
        .schedule = schedule_at_root,
        .flops = per_element_flops<1>,
    };
    return def;
}

// regularization_grad: g(i) + l1 sign(w(i)) + 2 l2 w(i), i the tensor's index
OpLowering lower_regularization_grad(const LowerCtx &ctx) {
    const ParamEntry &e = ctx.param_entry(ctx.node.param.substr(ctx.node.param.rfind('.') + 1));
    RegCoefficients c = regularization_of(ctx.graph, ctx.forward_node(), e.role);
    std::vector<Var> vars = param_vars(e.shape);
    std::vector<Expr> at(vars.begin(), vars.end());
    Expr grad = ctx.inputs[0](at);
    Expr w = ctx.arena(arena_index(e, at));
    if (c.l1 > 0) grad += (float)c.l1 * select(w > 0.0f, 1.0f, select(w < 0.0f, -1.0f, 0.0f));
    if (c.l2 > 0) grad += (float)(2 * c.l2) * w;
    Func out(ctx.node.name);
    out(vars) = grad;
    return {out, {}, {}, {}, {}};
}

const OpDef &op_regularization_grad() {
    static const OpDef def = {
        .name = "regularization_grad",
        .summary = "a tensor's gradient with the regularizer's term added",
        .user_visible = false,
        .lower = lower_regularization_grad,
        .schedule = schedule_inline,
        .flops = per_tensor_element_flops<2>,  // the term's multiply and add
    };
    return def;
}

// regularization: () = sum over tensors t of l1_t sum|w| + l2_t sum w^2, in arena order
OpLowering lower_regularization(const LowerCtx &ctx) {
    Func reg(ctx.node.name);
    reg() = 0.0f;
    for (const ParamEntry &e : ctx.layout().entries) {
        RegCoefficients c = regularization_of(ctx.graph, ctx.graph.nodes[e.node], e.role);
        if (!c.any()) continue;
        RDom r = tensor_domain(e, "reg");
        Expr w = ctx.arena(arena_index(e, rvars_of(r)));
        reg() += (float)c.l1 * abs(w) + (float)c.l2 * w * w;
    }
    return {reg, {}, {}, {}, {}};
}

/// |w| or w*w, a multiply and an add per element of each tensor with a term in the loss.
double regularization_flops(const Graph &graph, const Node &, int64_t) {
    double elements = 0;
    for (const auto &[tensor, id] : graph.param_grads) {
        if (graph.nodes[id].op == &op_regularization_grad())
            elements += (double)graph.nodes[id].shape.elements();
    }
    return 3.0 * elements;
}

const OpDef &op_regularization() {
    static const OpDef def = {
        .name = "regularization",
        .summary = "the regularizer's term of the loss, over the parameter arena",
        .min_inputs = 0,
        .max_inputs = 0,
        .user_visible = false,
        .lower = lower_regularization,
        .schedule = schedule_at_root,
        .flops = regularization_flops,
    };
    return def;
}

// learning_rate: () = the schedule at the step (compiler/LrSchedule.h)
OpLowering lower_learning_rate(const LowerCtx &ctx) {
    Func lr(ctx.node.name);
    lr() = learning_rate(ctx.graph.train, ctx.step, ctx.total_steps);
    return {lr, {}, {}, {}, {}};
}

const OpDef &op_learning_rate() {
    static const OpDef def = {
        .name = "learning_rate",
        .summary = "the learning rate of the step, from the train block's schedule",
        .min_inputs = 0,
        .max_inputs = 0,
        .user_visible = false,
        .lower = lower_learning_rate,
        .schedule = schedule_at_root,
        .flops = no_flops,
    };
    return def;
}

// batch_statistic: (c) = the layer's batch mean, or its variance * count / (count - 1)
OpLowering lower_batch_statistic(const LowerCtx &ctx) {
    const ParamEntry &e = ctx.param_entry(ctx.node.param.substr(ctx.node.param.rfind('.') + 1));
    Var c = dims().i0;
    Func stat(ctx.node.name);
    if (e.suffix == "running_mean") {
        stat(c) = ctx.saved("mean")(c);
    } else {
        internal_assert(e.suffix == "running_var");
        const Shape &s = ctx.forward_node().shape;
        Expr count =
            cast<float>(s.rank() == 3 ? ctx.batch * (int)(s.dims[1] * s.dims[2]) : ctx.batch);
        stat(c) = ctx.saved("var")(c) * count / max(count - 1.0f, 1.0f);
    }
    return {stat, {}, {}, {}, {}};
}

const OpDef &op_batch_statistic() {
    static const OpDef def = {
        .name = "batch_statistic",
        .summary = "the statistic of the batch a batchnorm buffer averages",
        .min_inputs = 0,
        .max_inputs = 0,
        .user_visible = false,
        .lower = lower_batch_statistic,
        .schedule = schedule_inline,
        .flops = per_tensor_element_flops<2>,
    };
    return def;
}

/// Arithmetic per parameter of one optimizer step, counted from the formulas in
/// compiler/Optimizer.h (sgd: w -= lr * g is a multiply and a subtract).
double optimizer_update_flops(const Graph &graph, const Node &node, int64_t) {
    static const std::map<std::string, double> per_param = {
        {"sgd", 2},     {"momentum", 4}, {"nesterov", 6}, {"adagrad", 6},
        {"rmsprop", 8}, {"adam", 12},    {"adamw", 14},
    };
    auto it = per_param.find(graph.train.optimizer.name);
    if (it == per_param.end())
        internal_error("no FLOP count for optimizer " + graph.train.optimizer.name);
    return it->second * (double)node.shape.elements();
}

const OpDef &op_optimizer_update() {
    static const OpDef def = {
        .name = "optimizer_update",
        .summary = "a trained tensor's optimizer step, in place in the arena",
        .min_inputs = 2,
        .max_inputs = 2,
        .user_visible = false,
        .flops = optimizer_update_flops,
        .updates_arena = true,
    };
    return def;
}

const OpDef &op_running_average() {
    static const OpDef def = {
        .name = "running_average",
        .summary = "a batchnorm buffer's running average of its batch statistic, in place",
        .user_visible = false,
        .flops = per_tensor_element_flops<3>,
        .updates_arena = true,
    };
    return def;
}

/// "conv1.weight" -> "conv1_weight", for the names of the nodes of a tensor.
std::string tensor_word(std::string tensor) {
    std::replace(tensor.begin(), tensor.end(), '.', '_');
    return tensor;
}

struct Appender {
    Graph &g;

    int add(const OpDef &op, std::string name, std::vector<int> inputs, Shape shape, bool batched,
            SourceLoc loc, std::string setting = "") {
        Node n;
        n.id = (int)g.nodes.size();
        n.op = &op;
        n.name = std::move(name);
        n.loc = loc;
        n.inputs = std::move(inputs);
        n.shape = std::move(shape);
        n.batched = batched;
        n.setting = std::move(setting);
        g.nodes.push_back(std::move(n));
        return g.nodes.back().id;
    }

    /// A node of tensor `tensor` of layer `layer`: it reads the layer's tensors or statistics.
    int add_for(const OpDef &op, const std::string &name, std::vector<int> inputs,
                const std::string &tensor, int layer, Shape shape, std::string setting = "") {
        int id = add(op, name, std::move(inputs), std::move(shape), false, g.nodes[layer].loc,
                     std::move(setting));
        g.nodes[id].param = tensor;
        g.nodes[id].forward = layer;
        return id;
    }
};

/// Each tensor of the forward graph, in the arena's order: its layer and spec.
struct Tensor {
    int layer;
    ParamSpec spec;
    std::string name;
};

std::vector<Tensor> tensors_of(const Graph &g) {
    std::vector<Tensor> out;
    for (int i = 0; i < g.forward_count; i++) {
        const Node &node = g.nodes[i];
        if (!node.op->params) continue;
        std::vector<Shape> inputs;
        for (int id : node.inputs) inputs.push_back(g.nodes[id].shape);
        for (const ParamSpec &p : node.op->params(node, inputs))
            out.push_back({i, p, node.name + "." + p.suffix});
    }
    return out;
}

}  // namespace

void add_loss(Graph &g) {
    internal_assert(g.has_backward() && !g.has_training());
    Appender a{g};
    const SourceLoc loc = g.loss.loc;
    g.sample_loss = a.add(op_sample_loss(), "sample_loss", {g.forward_count - 1}, Shape{}, true,
                          loc, choice_string(ChoiceKind::Loss, g.loss));
    g.data_loss = a.add(op_batch_mean(), "data_loss", {g.sample_loss}, Shape{}, false, loc);
    if (!g.regularizer) return;
    bool any = false;
    for (const Tensor &t : tensors_of(g)) {
        RegCoefficients c = regularization_of(g, g.nodes[t.layer], t.spec.role);
        if (!c.any()) continue;
        any = true;
        auto grad = g.param_grads.find(t.name);
        if (grad == g.param_grads.end()) continue;  // the loss does not depend on it
        std::string setting;
        if (c.l1 > 0) setting = "l1=" + format_number(c.l1);
        if (c.l2 > 0) setting += (setting.empty() ? "l2=" : " l2=") + format_number(c.l2);
        grad->second = a.add_for(op_regularization_grad(), "d_" + tensor_word(t.name) + "_total",
                                 {grad->second}, t.name, t.layer, t.spec.shape, setting);
    }
    if (any) {
        g.reg_loss = a.add(op_regularization(), "reg_loss", {}, Shape{}, false, g.regularizer->loc,
                           choice_string(ChoiceKind::Regularizer, *g.regularizer));
    }
}

void add_update(Graph &g) {
    internal_assert(g.sample_loss >= 0 && !g.has_training());
    Appender a{g};
    const TrainSettings &train = g.train;
    g.learning_rate =
        a.add(op_learning_rate(), "learning_rate", {}, Shape{}, false, train.schedule.loc,
              choice_string(ChoiceKind::Schedule, train.schedule));
    std::vector<Tensor> tensors = tensors_of(g);
    for (const Tensor &t : tensors) {
        if (t.spec.role != ParamRole::Buffer) continue;
        bool mean = t.spec.suffix == "running_mean";
        g.batch_stats[t.name] =
            a.add_for(op_batch_statistic(), "stat_" + tensor_word(t.name), {}, t.name, t.layer,
                      t.spec.shape, mean ? "batch mean" : "batch variance, unbiased");
    }
    const std::string optimizer = choice_string(ChoiceKind::Optimizer, train.optimizer);
    for (const Tensor &t : tensors) {
        const std::string name = "update_" + tensor_word(t.name);
        if (t.spec.role == ParamRole::Buffer) {
            std::string momentum =
                "momentum=" + format_number(g.nodes[t.layer].attrs.get_float("momentum"));
            g.updates[t.name] = a.add_for(op_running_average(), name, {g.batch_stats.at(t.name)},
                                          t.name, t.layer, t.spec.shape, momentum);
            continue;
        }
        auto grad = g.param_grads.find(t.name);
        if (grad == g.param_grads.end()) continue;  // the loss does not depend on it: it stays
        g.updates[t.name] = a.add_for(op_optimizer_update(), name, {grad->second, g.learning_rate},
                                      t.name, t.layer, t.spec.shape, optimizer);
    }
}

Graph derive_training(const Graph &forward, bool input_grad) {
    Graph g = derive_backward(forward, input_grad);
    add_loss(g);
    add_update(g);
    return g;
}

}  // namespace netc
