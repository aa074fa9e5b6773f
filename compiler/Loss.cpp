#include "compiler/Loss.h"

#include "compiler/Lower.h"
#include "compiler/Settings.h"
#include "dsl/Error.h"

namespace netc {

using namespace Halide;

namespace {

struct Scores {
    Expr label;      // the sample's class, clamped into range
    Func max_score;  // (n)
    Func log_sum;    // (n): log sum_k exp(s_k - max)
};

Scores softmax_parts(const Graph &graph, const Func &logits, const Func &labels,
                     const std::string &prefix) {
    const Dims &d = dims();
    int classes = (int)graph.classes;
    RDom k(0, classes, prefix + "_k");
    Scores s{clamp(labels(d.n), 0, classes - 1), Func(prefix + "_max"), Func(prefix + "_log_sum")};
    s.max_score(d.n) = maximum(logits(k, d.n));
    s.log_sum(d.n) = log(sum(exp(logits(k, d.n) - s.max_score(d.n))));
    return s;
}

float smoothing(const Graph &graph) {
    return graph.loss.name == "softmax_cross_entropy"
               ? (float)graph.loss.attrs.get_float("label_smoothing")
               : 0.0f;
}

// dL/ds (c, n), divided by the batch size (the loss is a batch mean)
OpLowering lower_loss_grad(const LowerCtx &ctx) {
    const Dims &d = dims();
    const Graph &graph = ctx.graph;
    int classes = (int)graph.classes;
    Func logits = ctx.inputs[0];
    Expr inv_batch = 1.0f / cast<float>(ctx.batch);
    Func grad("d_logits");
    if (graph.loss.name == "softmax_cross_entropy") {
        Scores s = softmax_parts(graph, logits, ctx.labels, "d_logits");
        float e = smoothing(graph);
        Expr target = select(d.c == s.label, 1.0f - e, 0.0f) + e / (float)classes;
        Expr p = exp(logits(d.c, d.n) - s.max_score(d.n) - s.log_sum(d.n));
        grad(d.c, d.n) = (p - target) * inv_batch;
        return {grad, {{"max", s.max_score}, {"log_sum", s.log_sum}}, {}, {}};
    }
    internal_assert(graph.loss.name == "svm");
    float margin = (float)graph.loss.attrs.get_float("margin");
    RDom k(0, classes, "d_logits_k");
    Expr label = clamp(ctx.labels(d.n), 0, classes - 1);
    Func true_score("d_logits_true"), violations("d_logits_violations");
    true_score(d.n) = logits(label, d.n);
    Expr violated_k = logits(k, d.n) - true_score(d.n) + margin > 0.0f && k != label;
    violations(d.n) = sum(select(violated_k, 1.0f, 0.0f));
    Expr violated_c = logits(d.c, d.n) - true_score(d.n) + margin > 0.0f;
    grad(d.c, d.n) =
        select(d.c == label, -violations(d.n), select(violated_c, 1.0f, 0.0f)) * inv_batch;
    return {grad, {{"true_score", true_score}, {"violations", violations}}, {}, {}};
}

void schedule_loss_grad(const ScheduleCtx &ctx, const Node &node, OpLowering &l) {
    for (const auto &[name, f] : l.stages) Func(f).compute_root();
    schedule_root(ctx, l.out, node.shape);
}

const OpDef &op_loss_grad() {
    static const OpDef def = {
        .name = "loss_grad",
        .summary = "dL/dlogits of the model's loss",
        .min_inputs = 1,
        .max_inputs = 1,
        .user_visible = false,
        .lower = lower_loss_grad,
        .schedule = schedule_loss_grad,
        .flops = per_element_flops<5>,
    };
    return def;
}

}  // namespace

int emit_loss_grad(Graph &graph) {
    Node n;
    n.id = (int)graph.nodes.size();
    n.op = &op_loss_grad();
    n.name = "d_logits";
    n.loc = graph.loss.loc;
    n.setting = choice_string(ChoiceKind::Loss, graph.loss);
    n.inputs = {graph.forward_count - 1};
    n.shape = graph.output().shape;
    n.forward = graph.forward_count - 1;
    graph.nodes.push_back(n);
    return n.id;
}

Func lower_loss(const Graph &graph, const Func &logits, const Func &labels) {
    const Dims &d = dims();
    Func loss("sample_loss");
    int classes = (int)graph.classes;
    if (graph.loss.name == "softmax_cross_entropy") {
        Scores s = softmax_parts(graph, logits, labels, "loss");
        float e = smoothing(graph);
        RDom k(0, classes, "loss_k");
        // -sum_k t_k log p_k = logsumexp - sum_k t_k s_k, with sum_k t_k = 1
        Expr smoothed = e > 0 ? (e / (float)classes) * sum(logits(k, d.n)) : Expr(0.0f);
        loss(d.n) =
            s.max_score(d.n) + s.log_sum(d.n) - (1.0f - e) * logits(s.label, d.n) - smoothed;
        return loss;
    }
    internal_assert(graph.loss.name == "svm");
    float margin = (float)graph.loss.attrs.get_float("margin");
    RDom k(0, classes, "loss_k");
    Expr label = clamp(labels(d.n), 0, classes - 1);
    loss(d.n) =
        sum(select(k != label, max(0.0f, logits(k, d.n) - logits(label, d.n) + margin), 0.0f));
    return loss;
}

}  // namespace netc
