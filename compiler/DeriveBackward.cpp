#include "compiler/DeriveBackward.h"

#include "compiler/Backward.h"
#include "compiler/Loss.h"
#include "compiler/ops/OpTable.h"
#include "dsl/Error.h"

namespace netc {

BackwardCtx::BackwardCtx(Graph &graph, int forward_node, int dy, std::vector<bool> input_needs_grad)
    : graph_(graph), node_(graph.nodes[forward_node]), dy_(dy),
      input_needs_grad_(std::move(input_needs_grad)) {}

const Shape &BackwardCtx::x_shape(int i) const { return graph_.nodes[node_.inputs[i]].shape; }

int BackwardCtx::emit(const OpDef &op, std::vector<int> inputs, Shape shape,
                      const std::string &what) {
    Node n;
    n.id = (int)graph_.nodes.size();
    n.op = &op;
    n.name = "d_" + node_.name + "_" + what;
    n.loc = node_.loc;
    n.inputs = std::move(inputs);
    n.attrs = node_.attrs;
    n.shape = std::move(shape);
    n.forward = node_.id;
    graph_.nodes.push_back(std::move(n));
    return graph_.nodes.back().id;
}

int BackwardCtx::emit_param_grad(const OpDef &op, std::vector<int> inputs,
                                 const std::string &suffix) {
    std::vector<Shape> in_shapes;
    for (int i : node_.inputs) in_shapes.push_back(graph_.nodes[i].shape);
    Shape shape;
    bool found = false;
    for (const ParamSpec &p : node_.op->params(node_, in_shapes)) {
        if (p.suffix == suffix) {
            shape = p.shape;
            found = true;
        }
    }
    internal_assert(found);
    int id = emit(op, std::move(inputs), shape, suffix);
    Node &n = graph_.nodes[id];
    n.batched = false;
    n.param = node_.name + "." + suffix;
    graph_.param_grads[n.param] = id;
    return id;
}

void BackwardCtx::set_attr(int emitted, const std::string &name, int64_t value) {
    internal_assert(graph_.nodes[emitted].forward == node_.id);
    AttrValue v;
    v.number = (double)value;
    graph_.nodes[emitted].attrs.set(name, v);
}

void BackwardCtx::set_input_grad(int i, int id) {
    internal_assert(input_needs_grad_[i]);
    input_grads_.push_back({i, id});
}

void backward_pointwise(BackwardCtx &ctx, const OpDef &grad_op) {
    if (!ctx.needs_input_grad()) return;
    ctx.set_input_grad(0,
                       ctx.emit(grad_op, {ctx.dy(), ctx.x(), ctx.y()}, ctx.node().shape, "input"));
}

namespace {

/// One node for the gradient of `value`: the single contribution, or their sum.
int sum_contributions(Graph &g, int value, const std::vector<int> &parts) {
    if (parts.size() == 1) return parts[0];
    Node sum;
    sum.id = (int)g.nodes.size();
    sum.op = &op_add();
    sum.name = "d_" + g.nodes[value].name;
    sum.loc = g.nodes[value].loc;
    sum.inputs = parts;
    sum.shape = g.nodes[value].shape;
    sum.forward = value;
    g.nodes.push_back(sum);
    return sum.id;
}

}  // namespace

const OpDef *op_without_backward(const Graph &forward) {
    for (int i = 1; i < forward.forward_count; i++) {
        const OpDef *op = forward.nodes[i].op;
        if (!op->backward && op->input_gradient) return op;
    }
    return nullptr;
}

bool has_image_gradient(const Graph &forward) {
    for (int i = 1; i < forward.forward_count; i++) {
        if (!forward.nodes[i].op->input_gradient) return false;
    }
    return true;
}

Graph derive_backward(const Graph &forward, bool input_grad) {
    Graph g = forward;
    internal_assert(!g.has_backward());
    int count = g.forward_count;
    // Which values depend on a trainable parameter (or, when asked, on the image): only those
    // need a gradient.
    std::vector<bool> needs(count, false);
    needs[0] = input_grad;
    for (int i = 1; i < count; i++) {
        const Node &n = g.nodes[i];
        std::vector<Shape> in;
        for (int id : n.inputs) in.push_back(g.nodes[id].shape);
        bool has_params = false;
        if (n.op->params) {
            for (const ParamSpec &p : n.op->params(n, in))
                has_params |= p.role != ParamRole::Buffer;
        }
        needs[i] = has_params;
        // A feature op passes no gradient back, so what comes before it needs none through it
        // (the front end made sure nothing before it is trained).
        if (n.op->input_gradient) {
            for (int id : n.inputs) needs[i] = needs[i] || needs[id];
        }
    }
    // Contributions to each value's gradient, summed when there are several.
    std::vector<std::vector<int>> contributions(count);
    contributions[count - 1].push_back(emit_loss_grad(g));
    for (int i = count - 1; i >= 1; i--) {
        std::vector<int> &parts = contributions[i];
        if (parts.empty()) continue;  // nothing downstream needs this value's gradient
        int dy = sum_contributions(g, i, parts);
        // Rules append nodes, so hold no reference into g.nodes across the call.
        const OpDef *op = g.nodes[i].op;
        if (!op->backward) internal_error(std::string("op ") + op->name + " has no backward rule");
        std::vector<bool> input_needs;
        for (int id : g.nodes[i].inputs) input_needs.push_back(needs[id]);
        BackwardCtx ctx(g, i, dy, input_needs);
        op->backward(ctx);
        for (const auto &[input, grad] : ctx.input_grads()) {
            contributions[g.nodes[i].inputs[input]].push_back(grad);
        }
    }
    if (input_grad && !contributions[0].empty()) {
        g.input_grad = sum_contributions(g, 0, contributions[0]);
    }
    return g;
}

}  // namespace netc
