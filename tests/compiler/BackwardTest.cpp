// Every op's backward rule, both losses and the regularizers against two independent oracles:
//  (a) central finite differences of the batch-mean loss (Caffe's GradientChecker), computed in
//      double from the plain C++ forward references (tests/compiler/Reference.h), so neither the
//      Halide forward lowering nor float rounding is part of this oracle; entries whose one-sided
//      slopes differ (a kink within the step: relu at 0, a tie in a max, the hinge at its
//      margin, |w| at 0) are skipped, and only a few may be;
//  (b) Halide's propagate_adjoints (Halide::Derivative) applied to the Funcs of netc's forward
//      lowering, except where Derivative cannot take them: max pooling and maxout become the
//      first maximum of their terms as a select chain (Derivative has no gradient for argmax or
//      maximum(), and its max() sends a tie to both sides), average pooling an unrolled sum,
//      flatten a masked sum (it mis-inverts the division and modulo of the index), and the loss
//      is written without maximum().
// Under test are the values of the derived backward nodes, lowered and scheduled as the train
// step does: every parameter gradient, every input gradient (d_<layer>_input, or
// d_<layer>_input<k> for concat) and dL/dlogits. An input gradient is the gradient through one
// edge of the graph, so the oracles perturb (or differentiate) only what that one consumer
// reads. Regularization goes through the real train step (one SGD step). Each model costs two JIT
// compiles, 2-10 s each on two busy cores (most of it in LLVM), so each puts several ops in a
// chain and keeps to one convolution at most where it can; batch 3 everywhere. About 2.5 minutes
// in all here.
#include "compiler/DeriveBackward.h"
#include "compiler/Frontend.h"
#include "compiler/Jit.h"
#include "compiler/Loss.h"
#include "compiler/Lower.h"
#include "compiler/LowerForward.h"
#include "compiler/Random.h"
#include "compiler/Reference.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace netc;
using reference::Tensor;

namespace {

constexpr uint32_t kRngKey = 0x2545f491u; // the dropout stream of every pipeline here
constexpr int kBatch = 3;

std::vector<float> uniform_floats(size_t count, float lo, float hi, uint32_t stream) {
    uint32_t key = random::stream_key(0xbac4a2d5ULL, stream);
    std::vector<float> out(count);
    for (size_t i = 0; i < count; i++) out[i] = lo + (hi - lo) * random::uniform(key, (uint32_t)i);
    return out;
}

std::string model_source(const std::string &input, int classes, const std::string &body,
                         const std::string &train = "") {
    return "model m {\n  input " + input + "\n  classes " + std::to_string(classes) + "\n" + body +
           "\n}\n" + train;
}

/// Regularization as the test expects it, written from the language's rules, not from
/// LowerTrain: loss += l1 sum |w| + l2 sum w^2 over each tensor that `applies`.
struct ExpectedReg {
    std::function<bool(const ParamEntry &)> applies;
    std::function<double(const ParamEntry &)> l1, l2;
};

double reg_value(const ParamLayout &layout, const ExpectedReg &reg, const float *params) {
    double total = 0;
    for (const ParamEntry &e : layout.entries) {
        if (!reg.applies(e)) continue;
        for (int64_t i = 0; i < e.size; i++) {
            double w = params[e.offset + i];
            total += reg.l1(e) * std::abs(w) + reg.l2(e) * w * w;
        }
    }
    return total;
}

/// What a gradient is taken with respect to.
struct GradTarget {
    std::string what;                  // "fc.weight", "d_tanh1_input", "d_logits"
    int grad_node = -1;                // the backward node computing it (-1: the arena)
    const ParamEntry *param = nullptr; // a parameter tensor
    int consumer = -1, input = 0;      // an edge: what node `consumer` reads as inputs[input]
    bool logits = false;               // dL/dlogits
    int64_t size = 0;                  // elements (values: batch included)
};

/// One model, its training graph, random parameters, images and labels, and both oracles.
class GradCheck {
  public:
    GradCheck(const std::string &source, uint32_t seed = 1, float input_lo = -1.5f,
              float input_hi = 1.5f)
        : fe_(run_frontend("test.net", source)) {
        if (!fe_.ok()) {
            std::ostringstream out;
            fe_.diags->print(out);
            FAIL("the test model does not compile:\n" << out.str() << "\n" << source);
        }
        train_ = derive_backward(*fe_.graph);
        const ParamLayout &layout = fe_.layout;
        params_.assign((size_t)layout.total, 0.0f);
        for (size_t k = 0; k < layout.entries.size(); k++) {
            const ParamEntry &e = layout.entries[k];
            float lo = -0.6f, hi = 0.6f;
            if (e.suffix == "running_var") lo = 0.5f, hi = 2.0f;
            if (e.role == ParamRole::Norm && e.suffix == "weight") lo = 0.5f, hi = 1.5f;
            std::vector<float> v =
                uniform_floats((size_t)e.size, lo, hi, seed * 1000 + (uint32_t)k);
            std::copy(v.begin(), v.end(), params_.begin() + e.offset);
        }
        images_ = uniform_floats((size_t)(graph().input.elements() * kBatch), input_lo, input_hi,
                                 seed * 1000 + 999);
        for (int n = 0; n < kBatch; n++)
            labels_.push_back((n * 7 + (int)seed) % (int)graph().classes);
        collect_targets();
        base_ = forward_values(params_, 1, -1, -1, 0, 0.0);
    }

    const Graph &graph() const { return *fe_.graph; }
    const Graph &train_graph() const { return train_; }
    const ParamLayout &layout() const { return fe_.layout; }
    std::vector<float> &params() { return params_; }
    const std::vector<float> &images() const { return images_; }
    const std::vector<int32_t> &labels() const { return labels_; }
    const std::vector<GradTarget> &targets() const { return targets_; }

    int node(const std::string &name) const {
        for (const Node &n : train_.nodes) {
            if (n.name == name) return n.id;
        }
        FAIL("no node named " << name);
        return -1;
    }
    /// Sets every element of a parameter tensor (before run_netc).
    void fill_param(const std::string &tensor, float value) {
        const ParamEntry *e = fe_.layout.find(tensor);
        REQUIRE(e != nullptr);
        std::fill(params_.begin() + e->offset, params_.begin() + e->offset + e->size, value);
        base_ = forward_values(params_, 1, -1, -1, 0, 0.0);
    }
    /// The reference (double) value of a forward node at the test's parameters.
    const Tensor &reference_value(int id) const { return base_[id]; }

    /// Also realize node `id` (forward or backward) in run_netc().
    void request(int id) { extra_.push_back(id); }
    /// A value realized by run_netc(): NCHW / (N, F) for batched nodes, torch order otherwise.
    const std::vector<float> &netc(int id) const { return netc_.at(id); }
    /// The per-sample loss from lower_loss, realized by run_netc().
    const std::vector<float> &netc_sample_loss() const { return sample_loss_; }

    /// Realizes every target's backward node (and the requested ones) through netc's own
    /// lowering and schedules, as one pipeline over the training graph.
    void run_netc();
    /// The gradients of Halide's propagate_adjoints, for each target (parameters: the arena's
    /// adjoint over the tensor). `reg` adds regularization to the loss.
    std::map<std::string, std::vector<float>> run_adjoint(const ExpectedReg *reg = nullptr);

    /// The data loss (batch mean, double) with the forward recomputed from node `first` on;
    /// when `consumer` >= 0, what that node reads as inputs[input] is moved by `delta` at
    /// element `index`; consumer == forward_count moves the logits.
    double loss(const std::vector<float> &params, int first, int consumer, int input, size_t index,
                double delta) const {
        std::vector<Tensor> v = forward_values(params, first, consumer, input, index, delta);
        Tensor logits = v[graph().forward_count - 1];
        if (consumer == graph().forward_count) logits.data[index] += delta;
        return data_loss(logits);
    }

    /// The batch-mean data loss of logits (N, classes), written from the loss's definition.
    double data_loss(const Tensor &logits) const {
        double total = 0;
        for (int n = 0; n < kBatch; n++) total += sample_loss(logits, n);
        return total / kBatch;
    }

    double sample_loss(const Tensor &logits, int n) const {
        const Choice &loss = graph().loss;
        int k = (int)graph().classes, y = labels_[n];
        if (loss.name == "svm") {
            double margin = loss.attrs.get_float("margin"), total = 0;
            for (int j = 0; j < k; j++) {
                if (j != y) total += std::max(0.0, logits.at(n, j) - logits.at(n, y) + margin);
            }
            return total;
        }
        double e = loss.attrs.get_float("label_smoothing");
        double top = -INFINITY;
        for (int j = 0; j < k; j++) top = std::max(top, logits.at(n, j));
        double sum = 0;
        for (int j = 0; j < k; j++) sum += std::exp(logits.at(n, j) - top);
        double total = 0; // -sum_j t_j log p_j, t = (1 - e) onehot(y) + e / K
        for (int j = 0; j < k; j++) {
            double t = (j == y ? 1 - e : 0) + e / k;
            total -= t * (logits.at(n, j) - top - std::log(sum));
        }
        return total;
    }

    /// Central differences of loss + reg at element `index` of a target, with step h and h/4:
    /// returns false (a kink within reach) when the two disagree.
    bool finite_difference(const GradTarget &t, size_t index, const ExpectedReg *reg, double &out);

  private:
    std::vector<Tensor> forward_values(const std::vector<float> &params, int first, int consumer,
                                       int input, size_t index, double delta) const {
        const Graph &g = graph();
        std::vector<Tensor> v(base_.begin(), base_.begin() + std::min<size_t>(first, base_.size()));
        if (v.empty()) v.push_back(Tensor::from(g.input, kBatch, images_.data()));
        for (int k = (int)v.size(); k < g.forward_count; k++) {
            const Node &node = g.nodes[k];
            std::vector<Tensor> moved;
            moved.reserve(node.inputs.size());
            std::vector<const Tensor *> inputs;
            for (int i = 0; i < (int)node.inputs.size(); i++) {
                if (k == consumer && i == input) {
                    moved.push_back(v[node.inputs[i]]);
                    moved.back().data[index] += delta;
                    inputs.push_back(&moved.back());
                } else {
                    inputs.push_back(&v[node.inputs[i]]);
                }
            }
            v.push_back(reference::apply(g, layout(), params.data(), node, inputs, true, kRngKey));
        }
        return v;
    }

    void collect_targets();

    Frontend fe_;
    Graph train_;
    std::vector<float> params_;
    std::vector<float> images_;
    std::vector<int32_t> labels_;
    std::vector<GradTarget> targets_;
    std::vector<Tensor> base_;
    std::vector<int> extra_;
    std::map<int, std::vector<float>> netc_;
    std::vector<float> sample_loss_;
};

void GradCheck::collect_targets() {
    const Graph &g = train_;
    for (const auto &[name, id] : g.param_grads) {
        GradTarget t;
        t.what = name;
        t.grad_node = id;
        t.param = fe_.layout.find(name);
        REQUIRE(t.param != nullptr);
        t.size = t.param->size;
        targets_.push_back(t);
    }
    for (int id = g.forward_count; id < (int)g.nodes.size(); id++) {
        const Node &b = g.nodes[id];
        if (b.name == "d_logits") {
            GradTarget t;
            t.what = b.name;
            t.grad_node = id;
            t.logits = true;
            t.consumer = g.forward_count;
            t.size = b.shape.elements() * kBatch;
            targets_.push_back(t);
            continue;
        }
        const Node &f = g.nodes[b.forward];
        std::string prefix = "d_" + f.name + "_input";
        if (b.name.rfind(prefix, 0) != 0 || !b.param.empty()) continue;
        std::string rest = b.name.substr(prefix.size());
        GradTarget t;
        t.what = b.name;
        t.grad_node = id;
        t.consumer = f.id;
        t.input = rest.empty() ? 0 : std::stoi(rest);
        t.size = b.shape.elements() * kBatch;
        REQUIRE(b.shape == g.nodes[f.inputs[t.input]].shape);
        targets_.push_back(t);
    }
}

/// (c, x, y, n) or (c, n) buffer -> NCHW / (N, F)
std::vector<float> to_nchw(const Halide::Buffer<float> &b, const Shape &s) {
    std::vector<float> out;
    if (s.rank() == 3) {
        int c = (int)s.dims[0], h = (int)s.dims[1], w = (int)s.dims[2];
        for (int n = 0; n < b.dim(3).extent(); n++)
            for (int k = 0; k < c; k++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) out.push_back(b(k, x, y, n));
    } else {
        for (int n = 0; n < b.dim(1).extent(); n++)
            for (int k = 0; k < (int)s.dims[0]; k++) out.push_back(b(k, n));
    }
    return out;
}

std::vector<int> value_extents(const Shape &s, int batch) {
    if (s.rank() == 3) return {(int)s.dims[0], (int)s.dims[2], (int)s.dims[1], batch};
    return {(int)s.dims[0], batch};
}

std::vector<int> param_extents(const Shape &s) {
    return std::vector<int>(s.dims.rbegin(), s.dims.rend());
}

void GradCheck::run_netc() {
    using namespace Halide;
    const ParamLayout &layout = fe_.layout;
    ImageParam params(Float(32), 1, "params"), images(Float(32), 4, "images");
    ImageParam labels(Int(32), 1, "labels");
    Halide::Target target = get_jit_target_from_environment();
    Forward fwd = lower_forward(train_, layout, Mode::Train, params, images, images.dim(3).extent(),
                                Expr(kRngKey), labels);
    std::vector<int> outputs;
    for (const GradTarget &t : targets_) outputs.push_back(t.grad_node);
    for (int id : extra_) {
        if (std::find(outputs.begin(), outputs.end(), id) == outputs.end()) outputs.push_back(id);
    }
    schedule_forward(train_, fwd, target, outputs);
    Func sample_loss = lower_loss(train_, fwd.logits, labels);
    sample_loss.compute_root();
    std::vector<Func> funcs;
    std::vector<Buffer<>> buffers;
    for (int id : outputs) {
        const Node &n = train_.nodes[id];
        funcs.push_back(fwd.values[id].out);
        buffers.push_back(
            Buffer<float>(n.batched ? value_extents(n.shape, kBatch) : param_extents(n.shape)));
    }
    funcs.push_back(sample_loss);
    buffers.push_back(Buffer<float>(kBatch));
    Buffer<float> pb(params_.data(), (int)layout.total);
    const Shape &in = graph().input;
    Buffer<float> ib(images_.data(), {(int)in.dims[2], (int)in.dims[1], (int)in.dims[0], kBatch});
    Buffer<int32_t> lb(labels_.data(), kBatch);
    params.set(pb);
    images.set(ib);
    labels.set(lb);
    Pipeline(funcs).realize(Realization(buffers), target);
    for (size_t k = 0; k < outputs.size(); k++) {
        const Node &n = train_.nodes[outputs[k]];
        Buffer<float> b = buffers[k];
        netc_[outputs[k]] = n.batched
                                ? to_nchw(b, n.shape)
                                : std::vector<float>(b.data(), b.data() + b.number_of_elements());
    }
    Buffer<float> lossb = buffers.back();
    sample_loss_.assign(lossb.data(), lossb.data() + kBatch);
}

/// The taps of a pooling window at output (c, x, y, n), in row-major window order.
std::vector<Halide::Expr> window_taps(const Node &node, const Halide::Func &padded) {
    const Dims &d = dims();
    int k = (int)node.attrs.get_int("kernel"), pad = (int)node.attrs.get_int("pad");
    int stride = node.attrs.has("stride") ? (int)node.attrs.get_int("stride") : k;
    std::vector<Halide::Expr> taps;
    for (int ky = 0; ky < k; ky++) {
        for (int kx = 0; kx < k; kx++) {
            taps.push_back(padded(d.c, d.x * stride + kx - pad, d.y * stride + ky - pad, d.n));
        }
    }
    return taps;
}

/// The first maximum of `terms` as a chain of selects, whose derivative routes the adjoint to
/// that one term (Derivative's max() would route a tie to both, and it cannot differentiate
/// argmax or maximum() at all).
Halide::Expr first_max(const std::vector<Halide::Expr> &terms) {
    Halide::Expr best = terms[0];
    for (size_t k = 1; k < terms.size(); k++) best = select(terms[k] > best, terms[k], best);
    return best;
}

/// Max pooling as the first maximum of its window's taps.
Halide::Func explicit_maxpool(const Node &node, const Halide::Func &in, const Shape &in_shape) {
    const Dims &d = dims();
    Halide::Func out("oracle_" + node.name);
    out(d.c, d.x, d.y, d.n) =
        first_max(window_taps(node, pad_image(in, in_shape, Halide::Float(32).min())));
    return out;
}

/// Average pooling as an unrolled sum of its window's taps (propagate_adjoints crashes on the
/// forward lowering's RDom sum when the stride equals the kernel).
Halide::Func explicit_avgpool(const Node &node, const Halide::Func &in, const Shape &in_shape) {
    const Dims &d = dims();
    Halide::Expr total = 0.0f;
    for (const Halide::Expr &tap : window_taps(node, pad_image(in, in_shape, 0.0f))) total += tap;
    int k = (int)node.attrs.get_int("kernel");
    Halide::Func out("oracle_" + node.name);
    out(d.c, d.x, d.y, d.n) = total / (float)(k * k);
    return out;
}

/// Maxout as the first maximum of each group's pieces.
Halide::Func explicit_maxout(const Node &node, const Halide::Func &in) {
    int pieces = (int)node.attrs.get_int("pieces");
    std::vector<Halide::Var> v = value_vars(node.shape);
    std::vector<Halide::Expr> args(v.begin(), v.end()), terms;
    for (int k = 0; k < pieces; k++) {
        args[0] = v[0] * pieces + k;
        terms.push_back(in(args));
    }
    Halide::Func out("oracle_" + node.name);
    out(v) = first_max(terms);
    return out;
}

/// Flatten as a masked sum over the image: Derivative cannot invert the division and modulo
/// of the forward lowering's index (it scatters to the wrong elements).
Halide::Func explicit_flatten(const Node &node, const Halide::Func &in, const Shape &in_shape) {
    using namespace Halide;
    const Dims &d = dims();
    Func out("oracle_" + node.name);
    if (in_shape.rank() == 1) {
        out(d.c, d.n) = in(d.c, d.n);
        return out;
    }
    int c = (int)in_shape.dims[0], h = (int)in_shape.dims[1], w = (int)in_shape.dims[2];
    RDom r(0, w, 0, h, 0, c, "oracle_" + node.name + "_r");
    out(d.c, d.n) = sum(select(d.c == (r.z * h + r.y) * w + r.x, in(r.z, r.x, r.y, d.n), 0.0f));
    return out;
}

std::map<std::string, std::vector<float>> GradCheck::run_adjoint(const ExpectedReg *reg) {
    using namespace Halide;
    const Graph &g = graph();
    const ParamLayout &layout = fe_.layout;
    const Dims &d = dims();
    const Shape &in = g.input;
    Buffer<float> pb((int)layout.total),
        ib((int)in.dims[2], (int)in.dims[1], (int)in.dims[0], kBatch);
    Buffer<int32_t> lb(kBatch);
    std::copy(params_.begin(), params_.end(), pb.data());
    std::copy(images_.begin(), images_.end(), ib.data());
    std::copy(labels_.begin(), labels_.end(), lb.data());
    Var i("i");
    Func arena("oracle_arena"), labels("oracle_labels");
    // Reads are clamped into the buffers: adjoints evaluate forward stages beyond the region the
    // forward pass covers (and multiply what they read there by a zero adjoint, which turns
    // the garbage of an unchecked read into NaN).
    arena(i) = pb(clamp(i, 0, (int)layout.total - 1));
    labels(d.n) = lb(clamp(d.n, 0, kBatch - 1));
    Func images = BoundaryConditions::repeat_edge(ib);
    std::vector<Func> value(g.forward_count);
    value[0] = Func("oracle_input");
    value[0](d.c, d.x, d.y, d.n) = images(d.x, d.y, d.c, d.n);
    std::map<std::pair<int, int>, Func> edges;
    for (int k = 1; k < g.forward_count; k++) {
        const Node &node = g.nodes[k];
        std::vector<Func> inputs;
        for (int j = 0; j < (int)node.inputs.size(); j++) {
            const Shape &s = g.nodes[node.inputs[j]].shape;
            Func edge("edge_" + node.name + "_" + std::to_string(j));
            std::vector<Var> v = value_vars(s);
            edge(v) = value[node.inputs[j]](v);
            edges[{k, j}] = edge;
            inputs.push_back(edge);
        }
        std::string op = node.op->name;
        if (op == "maxpool") {
            value[k] = explicit_maxpool(node, inputs[0], g.nodes[node.inputs[0]].shape);
        } else if (op == "avgpool") {
            value[k] = explicit_avgpool(node, inputs[0], g.nodes[node.inputs[0]].shape);
        } else if (op == "maxout") {
            value[k] = explicit_maxout(node, inputs[0]);
        } else if (op == "flatten") {
            value[k] = explicit_flatten(node, inputs[0], g.nodes[node.inputs[0]].shape);
        } else {
            LowerCtx ctx(g, node, layout, Mode::Train, inputs, arena, Expr(kBatch), Expr(kRngKey));
            ctx.labels = labels;
            value[k] = node.op->lower(ctx).out;
        }
    }
    Func logits = value[g.forward_count - 1];
    // The loss again, without maximum(): logsumexp of small logits needs no shift.
    int classes = (int)g.classes;
    RDom rk(0, classes, "oracle_k");
    Expr label = clamp(labels(d.n), 0, classes - 1); // bounded, as Derivative needs
    Func sample("oracle_sample_loss");
    if (g.loss.name == "svm") {
        float margin = (float)g.loss.attrs.get_float("margin");
        sample(d.n) = sum(
            select(rk != label, max(0.0f, logits(rk, d.n) - logits(label, d.n) + margin), 0.0f));
    } else {
        float e = (float)g.loss.attrs.get_float("label_smoothing");
        sample(d.n) = log(sum(exp(logits(rk, d.n)))) - (1.0f - e) * logits(label, d.n) -
                      (e / (float)classes) * sum(logits(rk, d.n));
    }
    RDom rn(0, kBatch, "oracle_n");
    Func total("oracle_total");
    total() = sum(sample(rn)) / (float)kBatch;
    if (reg) {
        for (const ParamEntry &e : layout.entries) {
            if (!reg->applies(e)) continue;
            RDom r(0, (int)e.size);
            Expr w = arena((int)e.offset + r);
            total() += (float)reg->l1(e) * abs(w) + (float)reg->l2(e) * w * w;
        }
    }
    Derivative adj = propagate_adjoints(total);

    std::vector<Func> outs;
    std::vector<Buffer<>> buffers;
    std::vector<std::string> names;
    // Each adjoint is copied out through a wrapper: an adjoint scatters beyond the region an
    // output buffer would cover.
    auto wrapped = [&](const Func &f, const std::string &name) {
        Func out("oracle_out_" + name);
        std::vector<Var> v = f.args();
        out(v) = f(v);
        return out;
    };
    Func d_arena = adj(arena);
    REQUIRE(d_arena.defined());
    outs.push_back(wrapped(d_arena, "arena"));
    buffers.push_back(Buffer<float>((int)layout.total));
    names.push_back("");
    for (const GradTarget &t : targets_) {
        if (t.param) continue;
        Func f = t.logits ? adj(logits) : adj(edges.at({t.consumer, t.input}));
        INFO("no adjoint for " << t.what);
        REQUIRE(f.defined());
        const Shape &s =
            t.logits ? g.output().shape : g.nodes[g.nodes[t.consumer].inputs[t.input]].shape;
        outs.push_back(wrapped(f, std::to_string(outs.size())));
        buffers.push_back(Buffer<float>(value_extents(s, kBatch)));
        names.push_back(t.what);
    }
    // Everything at root: an unscheduled adjoint graph recomputes each inlined stage per use.
    std::vector<Internal::Function> functions;
    for (const Func &f : outs) functions.push_back(f.function());
    for (const auto &[name, function] : Internal::build_environment(functions)) {
        bool output = false;
        for (const Func &f : outs) output |= f.name() == name;
        if (!output) Func(function).compute_root();
    }
    // A plain target: the oracle's speed does not matter, and LLVM compiles scalar code
    // without asserts about twice as fast.
    Halide::Target host = get_host_target();
    Halide::Target plain(
        host.os, host.arch, host.bits,
        {Halide::Target::JIT, Halide::Target::NoAsserts, Halide::Target::NoBoundsQuery});
    Pipeline(outs).realize(Realization(buffers), plain);

    std::map<std::string, std::vector<float>> result;
    Buffer<float> da = buffers[0];
    for (const GradTarget &t : targets_) {
        if (!t.param) continue;
        result[t.what] = std::vector<float>(da.data() + t.param->offset,
                                            da.data() + t.param->offset + t.param->size);
    }
    for (size_t k = 1; k < outs.size(); k++) {
        const GradTarget *t = nullptr;
        for (const GradTarget &c : targets_) {
            if (c.what == names[k]) t = &c;
        }
        const Shape &s =
            t->logits ? g.output().shape : g.nodes[g.nodes[t->consumer].inputs[t->input]].shape;
        result[names[k]] = to_nchw(buffers[k], s);
    }
    return result;
}

bool GradCheck::finite_difference(const GradTarget &t, size_t index, const ExpectedReg *reg,
                                  double &out) {
    // The loss at the entry moved by about -h, 0 and +h; in double a step of 1e-6 loses only
    // about 1e-10 to cancellation. Parameters are floats: the steps are the floats' own.
    const double h = 1e-6;
    double f[3], step[3];
    for (int k = 0; k < 3; k++) {
        double delta = (k - 1) * h;
        if (t.param) {
            std::vector<float> p = params_;
            size_t at = (size_t)t.param->offset + index;
            float w = p[at];
            p[at] = (float)(w + delta);
            step[k] = (double)p[at] - (double)w;
            f[k] = loss(p, t.param->node, -1, 0, 0, 0) +
                   (reg ? reg_value(layout(), *reg, p.data()) : 0);
        } else {
            step[k] = delta;
            f[k] = loss(params_, t.consumer, t.consumer, t.input, index, delta);
        }
    }
    double forward = (f[2] - f[1]) / (step[2] - step[1]);
    double backward = (f[1] - f[0]) / (step[1] - step[0]);
    out = (f[2] - f[0]) / (step[2] - step[0]);
    // A kink within the step (a tie in a max, relu at 0, the hinge at its margin, |w| at 0)
    // makes the one-sided slopes differ by a jump; smoothly they differ by about h f''.
    return std::abs(forward - backward) <= 1e-5 + 1e-3 * std::abs(out);
}

/// Up to `count` indices of [0, size): all of them when few, otherwise both ends and a fixed
/// random sample.
std::vector<size_t> sample_indices(int64_t size, size_t count, uint32_t stream) {
    std::vector<size_t> out;
    if ((size_t)size <= count) {
        for (int64_t i = 0; i < size; i++) out.push_back((size_t)i);
        return out;
    }
    out = {0, (size_t)size - 1};
    uint32_t key = random::stream_key(0x5a3b1e, stream);
    for (uint32_t i = 0; out.size() < count; i++) {
        out.push_back(random::bits(key, i) % (uint32_t)size);
    }
    return out;
}

/// |got - want| <= rtol |want| + atol max|want|: relative, with an absolute floor at the
/// tensor's own scale (entries that are sums cancelling to near zero carry float error of the
/// terms' size).
struct Tolerance {
    double rtol, atol;
};

struct Mismatch {
    size_t index = 0;
    double got = 0, want = 0, excess = -1;
};

Mismatch worst_mismatch(const std::vector<float> &got, const std::vector<double> &want,
                        const std::vector<size_t> &indices, Tolerance tol) {
    double scale = 0;
    for (size_t i : indices) scale = std::max(scale, std::abs(want[i]));
    Mismatch m;
    for (size_t i : indices) {
        double err = std::abs((double)got[i] - want[i]);
        double allowed = tol.rtol * std::abs(want[i]) + tol.atol * scale + 1e-6;
        double excess = std::isnan(err) ? INFINITY : err / allowed;
        if (excess > m.excess) m = {i, got[i], want[i], excess};
    }
    return m;
}

/// How check_gradients compares.
struct CheckOptions {
    const ExpectedReg *reg = nullptr; // regularization added to the loss
    // The gradients under test by target name; null: the backward nodes realized by run_netc().
    const std::map<std::string, std::vector<float>> *given = nullptr;
    double min_smooth = 0.75; // the share of sampled entries that must be away from kinks
};

/// One gradient against both oracles: the worst element of each, scaled by the tolerance.
struct Comparison {
    std::string what;
    size_t sampled = 0, smooth = 0; // finite-difference entries sampled, and away from kinks
    Mismatch fd, adjoint;           // excess <= 1: within tolerance
};

/// Compares the targets of a GradCheck (those in `given`, if set) with both oracles.
std::vector<Comparison> compare_gradients(GradCheck &gc, const CheckOptions &opt = {}) {
    std::map<std::string, std::vector<float>> adjoint = gc.run_adjoint(opt.reg);
    std::vector<Comparison> out;
    uint32_t stream = 0;
    for (const GradTarget &t : gc.targets()) {
        if (opt.given && !opt.given->count(t.what)) continue;
        const std::vector<float> &got = opt.given ? opt.given->at(t.what) : gc.netc(t.grad_node);
        REQUIRE(got.size() == (size_t)t.size);
        Comparison c;
        c.what = t.what;
        // (a) finite differences on a sample of entries
        std::vector<size_t> indices = sample_indices(t.size, 24, stream++);
        std::vector<double> fd(t.size, 0.0);
        std::vector<size_t> smooth;
        for (size_t i : indices) {
            if (gc.finite_difference(t, i, opt.reg, fd[i])) smooth.push_back(i);
        }
        c.sampled = indices.size();
        c.smooth = smooth.size();
        c.fd = worst_mismatch(got, fd, smooth, {2e-3, 2e-4});
        // (b) propagate_adjoints on every entry
        std::vector<double> want(adjoint.at(t.what).begin(), adjoint.at(t.what).end());
        std::vector<size_t> all(t.size);
        for (size_t i = 0; i < all.size(); i++) all[i] = i;
        c.adjoint = worst_mismatch(got, want, all, {1e-3, 1e-4});
        out.push_back(c);
    }
    return out;
}

/// compare_gradients, each gradient required to match both oracles. Returns the names checked.
std::vector<std::string> check_gradients(GradCheck &gc, const CheckOptions &opt = {}) {
    std::vector<std::string> checked;
    size_t skipped = 0, sampled = 0;
    for (const Comparison &c : compare_gradients(gc, opt)) {
        CHECK_MESSAGE((double)c.smooth >= opt.min_smooth * (double)c.sampled,
                      c.what << ": " << c.sampled - c.smooth << " of " << c.sampled
                             << " entries sit at a kink");
        CHECK_MESSAGE(c.fd.excess <= 1.0, c.what << " vs finite differences: element " << c.fd.index
                                                 << " is " << c.fd.got << ", want " << c.fd.want);
        CHECK_MESSAGE(c.adjoint.excess <= 1.0, c.what << " vs propagate_adjoints: element "
                                                      << c.adjoint.index << " is " << c.adjoint.got
                                                      << ", want " << c.adjoint.want);
        checked.push_back(c.what);
        skipped += c.sampled - c.smooth;
        sampled += c.sampled;
    }
    MESSAGE(checked.size() << " gradients checked, " << skipped << " of " << sampled
                           << " finite-difference entries skipped at kinks");
    return checked;
}

/// The netc pipeline, then both oracles on every gradient, and the reported per-sample loss
/// against the double loss. Fails if any name in `expected` was not among the gradients.
void check_model(GradCheck &gc, const std::vector<std::string> &expected,
                 const CheckOptions &opt = {}) {
    gc.run_netc();
    std::vector<std::string> checked = check_gradients(gc, opt);
    for (const std::string &name : expected) {
        CHECK_MESSAGE(std::find(checked.begin(), checked.end(), name) != checked.end(),
                      "no gradient " << name << " was derived");
    }
    const Tensor &logits = gc.reference_value(gc.graph().forward_count - 1);
    for (int n = 0; n < kBatch; n++) {
        double want = gc.sample_loss(logits, n);
        CHECK(gc.netc_sample_loss()[n] == doctest::Approx(want).epsilon(1e-5));
    }
}

} // namespace

TEST_CASE("sigmoid, tanh, leaky_relu, conv2d with stride and dilation, overlapping padded "
          "maxpool, dense; softmax cross-entropy") {
    GradCheck gc(model_source("2x7x7", 4,
                              "  c1: conv2d(filters=5, kernel=3, pad=1)\n"
                              "  s1: sigmoid\n"
                              "  c2: conv2d(filters=6, kernel=3, stride=2, pad=2, dilation=2)\n"
                              "  t1: tanh\n"
                              "  p1: maxpool(kernel=3, stride=2, pad=1)\n"
                              "  flatten\n"
                              "  d1: dense(units=9)\n"
                              "  l1: leaky_relu(alpha=0.2)\n"
                              "  d2: dense(units=4, bias=false)\n"
                              "  loss softmax_cross_entropy"));
    check_model(gc,
                {"c1.weight", "c1.bias", "c2.weight", "d1.weight", "d2.weight", "d_s1_input",
                 "d_c2_input", "d_t1_input", "d_p1_input", "d_l1_input", "d_d2_input", "d_logits"});
}

TEST_CASE("avgpool (overlapping, padded, uncovered pixels), elu, selu, exact gelu, relu, "
          "global_avgpool, prelu on images; cross-entropy with label smoothing") {
    GradCheck gc(model_source("3x7x7", 4,
                              "  p0: prelu\n"
                              "  a1: avgpool(kernel=3, stride=2, pad=1)\n"
                              "  e1: elu(alpha=0.7)\n"
                              "  c2: conv2d(filters=6, kernel=2)\n"
                              "  s1: selu\n"
                              "  a2: avgpool(kernel=2)\n"
                              "  g1: gelu\n"
                              "  r1: relu\n"
                              "  gap: global_avgpool\n"
                              "  fc: dense(units=4)\n"
                              "  loss softmax_cross_entropy(label_smoothing=0.1)"),
                 2);
    check_model(gc, {"p0.weight", "c2.weight", "c2.bias", "fc.weight", "fc.bias", "d_a1_input",
                     "d_e1_input", "d_c2_input", "d_s1_input", "d_a2_input", "d_g1_input",
                     "d_r1_input", "d_gap_input", "d_logits"});
}

TEST_CASE("concat, add with fan-out, maxout, prelu per channel and shared, tanh gelu; svm") {
    GradCheck gc(model_source("2x5x5", 5,
                              "  a: conv2d(filters=4, kernel=3, pad=1)\n"
                              "  pa: prelu\n"
                              "  b: batchnorm(input)\n"
                              "  cat: concat(pa, b, pa)\n"
                              "  mo: maxout(pieces=2)\n"
                              "  g: gelu(approximate=tanh)\n"
                              "  flatten\n"
                              "  d1: dense(units=6)\n"
                              "  ps: prelu(shared=true)\n"
                              "  d2: dense(units=6)\n"
                              "  sum: add(ps, d2)\n"
                              "  fc: dense(units=5)\n"
                              "  loss svm(margin=1)"),
                 3);
    check_model(gc,
                {"a.weight", "b.weight", "b.bias", "pa.weight", "ps.weight", "d1.weight", "d2.bias",
                 "fc.weight", "d_pa_input", "d_cat_input0", "d_cat_input1", "d_cat_input2",
                 "d_mo_input", "d_g_input", "d_ps_input", "d_d2_input", "d_fc_input", "d_logits"});
}

TEST_CASE("normalization on vectors: batchnorm, layernorm, groupnorm (affine or not); dropout; "
          "the dropout mask of the backward pass is the forward one") {
    GradCheck gc(model_source("3x2x2", 5,
                              "  flatten\n"
                              "  d1: dense(units=12)\n"
                              "  bn: batchnorm\n"
                              "  ln: layernorm\n"
                              "  gn: groupnorm(groups=3)\n"
                              "  t: tanh\n"
                              "  drop: dropout(p=0.3)\n"
                              "  d2: dense(units=8)\n"
                              "  ln2: layernorm(affine=false)\n"
                              "  gn2: groupnorm(groups=2, affine=false)\n"
                              "  bn2: batchnorm(affine=false)\n"
                              "  fc: dense(units=5)\n"
                              "  loss softmax_cross_entropy"),
                 4);
    int drop = gc.node("drop"), t = gc.node("t"), dx = gc.node("d_drop_input");
    int dy = gc.train_graph().nodes[dx].inputs[0];
    for (int id : {drop, t, dy}) gc.request(id);
    check_model(gc, {"bn.weight", "bn.bias", "ln.weight", "ln.bias", "gn.weight", "gn.bias",
                     "d_bn_input", "d_ln_input", "d_gn_input", "d_t_input", "d_drop_input",
                     "d_ln2_input", "d_gn2_input", "d_bn2_input", "d_logits"});
    // The same elements are dropped in both passes: dx = dy / (1 - p) where the forward kept
    // x, 0 where it dropped it.
    const std::vector<float> &y = gc.netc(drop), &x = gc.netc(t), &g = gc.netc(dx),
                             &up = gc.netc(dy);
    int kept = 0, dropped = 0;
    for (size_t i = 0; i < y.size(); i++) {
        REQUIRE(x[i] != 0.0f);
        if (y[i] == 0.0f) {
            dropped++;
            CHECK(g[i] == 0.0f);
        } else {
            kept++;
            CHECK(y[i] == doctest::Approx(x[i] / 0.7f).epsilon(1e-6));
            CHECK(g[i] == doctest::Approx(up[i] / 0.7f).epsilon(1e-6));
        }
    }
    CHECK(kept > 0);
    CHECK(dropped > 0);
}

TEST_CASE("normalization on images: batchnorm, layernorm ([C, H, W] weights), groupnorm, "
          "prelu; image dropout; svm with a smaller margin") {
    GradCheck gc(model_source("4x4x5", 3,
                              "  p: prelu\n"
                              "  bn: batchnorm\n"
                              "  ln: layernorm\n"
                              "  gn: groupnorm(groups=2)\n"
                              "  s: sigmoid\n"
                              "  drop: dropout(p=0.25)\n"
                              "  fl: flatten\n"
                              "  fc: dense(units=3)\n"
                              "  loss svm(margin=0.5)"),
                 5);
    check_model(gc, {"p.weight", "bn.weight", "bn.bias", "ln.weight", "ln.bias", "gn.weight",
                     "gn.bias", "d_bn_input", "d_ln_input", "d_gn_input", "d_s_input",
                     "d_drop_input", "d_fl_input", "d_logits"});
}

TEST_CASE("maxpool and maxout send dy to the first maximum when several tie") {
    // A negative shift before the relu makes whole windows (and maxout groups) of zeros.
    GradCheck gc(model_source("2x6x8", 3,
                              "  gn: groupnorm(groups=1)\n"
                              "  r: relu\n"
                              "  mp: maxpool(kernel=2)\n"
                              "  mo: maxout(pieces=2)\n"
                              "  flatten\n"
                              "  fc: dense(units=3)\n"
                              "  loss softmax_cross_entropy"),
                 6);
    gc.fill_param("gn.bias", -1.0f);
    int r = gc.node("r"), mp = gc.node("mp"), dmp = gc.node("d_mp_input"),
        dmo = gc.node("d_mo_input");
    int dy_mp = gc.train_graph().nodes[dmp].inputs[0],
        dy_mo = gc.train_graph().nodes[dmo].inputs[0];
    for (int id : {r, mp, dy_mp, dy_mo}) gc.request(id);
    // Entries next to a tie are kinks for finite differences; the adjoint oracle's maxima
    // break ties the same way.
    CheckOptions opt;
    opt.min_smooth = 0.2;
    check_model(gc, {"d_mp_input", "d_mo_input", "d_r_input"}, opt);

    // maxpool: windows 2x2, stride 2, over (n, c, y, x); the first maximum in row-major order.
    const std::vector<float> &x = gc.netc(r), &dmp_got = gc.netc(dmp), &dy = gc.netc(dy_mp);
    std::vector<float> want(x.size(), 0.0f);
    int c = 2, h = 6, w = 8, oh = 3, ow = 4, ties = 0;
    for (int n = 0; n < kBatch; n++)
        for (int k = 0; k < c; k++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    auto at = [&](int y, int xx) { return ((n * c + k) * h + y) * w + xx; };
                    int best = at(2 * oy, 2 * ox), equal = 0;
                    for (int ky = 0; ky < 2; ky++)
                        for (int kx = 0; kx < 2; kx++) {
                            int i = at(2 * oy + ky, 2 * ox + kx);
                            if (x[i] > x[best]) best = i;
                        }
                    for (int ky = 0; ky < 2; ky++)
                        for (int kx = 0; kx < 2; kx++)
                            equal += x[at(2 * oy + ky, 2 * ox + kx)] == x[best];
                    ties += equal > 1;
                    want[best] += dy[((n * c + k) * oh + oy) * ow + ox];
                }
    CHECK(ties > 0);
    CHECK(dmp_got == want);

    // maxout: pieces 2k and 2k+1 of each pixel; the first on a tie.
    const std::vector<float> &pooled = gc.netc(mp), &dmo_got = gc.netc(dmo), &dy2 = gc.netc(dy_mo);
    std::vector<float> want2(pooled.size(), 0.0f);
    int group_ties = 0, pixels = oh * ow;
    for (int n = 0; n < kBatch; n++)
        for (int p = 0; p < pixels; p++) {
            int a = (n * c + 0) * pixels + p, b = (n * c + 1) * pixels + p;
            group_ties += pooled[a] == pooled[b];
            want2[pooled[b] > pooled[a] ? b : a] = dy2[n * pixels + p];
        }
    CHECK(group_ties > 0);
    CHECK(dmo_got == want2);
}

TEST_CASE("regularization: L2, L1 and elastic net on weights; biases and normalization "
          "parameters only when asked; a layer's own strength overrides the model's") {
    struct Variant {
        std::string line;
        double strength, l1_ratio; // l1 = strength * ratio, l2 = strength * (1 - ratio)
        bool biases, norms;
    };
    const Variant variants[] = {
        {"l2(strength=0.01)", 0.01, 0.0, false, false},
        {"l1(strength=0.02, biases=true)", 0.02, 1.0, true, false},
        {"elastic_net(strength=0.05, l1_ratio=0.3, norms=true)", 0.05, 0.3, false, true},
        {"elastic_net(strength=0.04, l1_ratio=0.6, biases=true, norms=true)", 0.04, 0.6, true,
         true},
    };
    uint32_t seed = 10;
    for (const Variant &v : variants) {
        CAPTURE(v.line);
        GradCheck gc(model_source("2x3x3", 3,
                                  "  flatten\n"
                                  "  d1: dense(units=6)\n"
                                  "  bn: batchnorm\n"
                                  "  pr: prelu\n"
                                  "  d2: dense(units=3, regularize=0.03)\n"
                                  "  loss softmax_cross_entropy\n"
                                  "  regularize " +
                                      v.line,
                                  "train {\n  optimizer sgd(lr=64)\n}\n"),
                     seed++);
        const Graph &g = gc.graph();
        ExpectedReg reg;
        reg.applies = [&](const ParamEntry &e) {
            if (e.role == ParamRole::Buffer) return false;
            if (e.role == ParamRole::Bias) return v.biases;
            if (e.role == ParamRole::Norm || e.role == ParamRole::Slope) return v.norms;
            return true;
        };
        auto strength = [&](const ParamEntry &e) {
            const Node &node = g.nodes[e.node];
            return node.attrs.has("regularize") ? node.attrs.get_float("regularize") : v.strength;
        };
        reg.l1 = [&](const ParamEntry &e) { return strength(e) * v.l1_ratio; };
        reg.l2 = [&](const ParamEntry &e) { return strength(e) * (1 - v.l1_ratio); };

        // One SGD step of the real train step: g = (w - w') / lr, regularization included.
        JitModel model(g, gc.layout());
        std::vector<float> after = gc.params(),
                           state(std::max<int64_t>(model.opt_state_count(), 1));
        JitModel::StepResult step = model.train_step(after.data(), state.data(), gc.images().data(),
                                                     gc.labels().data(), kBatch, 0);
        std::map<std::string, std::vector<float>> grads;
        for (const ParamEntry &e : gc.layout().entries) {
            if (!e.trainable()) continue;
            std::vector<float> &grad = grads[e.name];
            for (int64_t i = 0; i < e.size; i++) {
                grad.push_back((gc.params()[e.offset + i] - after[e.offset + i]) / 64.0f);
            }
        }
        CheckOptions opt;
        opt.reg = &reg;
        opt.given = &grads;
        std::vector<std::string> checked = check_gradients(gc, opt);
        CHECK(checked.size() == grads.size());
        // The reported terms, apart.
        double data = gc.data_loss(gc.reference_value(g.forward_count - 1));
        CHECK(step.data_loss == doctest::Approx(data).epsilon(1e-5));
        CHECK(step.regularization ==
              doctest::Approx(reg_value(gc.layout(), reg, gc.params().data())).epsilon(1e-5));
    }
}

TEST_CASE("the oracles catch a wrong rule: tanh differentiated as 1 - y instead of 1 - y^2") {
    GradCheck gc(model_source("2x2x2", 3,
                              "  flatten\n"
                              "  d1: dense(units=5)\n"
                              "  t: tanh\n"
                              "  fc: dense(units=3)\n"
                              "  loss softmax_cross_entropy"),
                 7);
    int t = gc.node("t"), dx = gc.node("d_t_input");
    int dy = gc.train_graph().nodes[dx].inputs[0];
    gc.request(t);
    gc.request(dy);
    gc.run_netc();
    // The gradients as they are, and with d_t_input (and what it feeds, d1's weight and bias)
    // from the wrong rule.
    std::map<std::string, std::vector<float>> right, wrong;
    for (const GradTarget &target : gc.targets()) right[target.what] = gc.netc(target.grad_node);
    wrong = right;
    const std::vector<float> &y = gc.netc(t), &up = gc.netc(dy);
    std::vector<float> &bad = wrong.at("d_t_input");
    for (size_t i = 0; i < bad.size(); i++) bad[i] = up[i] * (1.0f - y[i]);
    CheckOptions opt;
    opt.given = &right;
    for (const Comparison &c : compare_gradients(gc, opt)) {
        CHECK_MESSAGE(c.fd.excess <= 1.0, c.what);
        CHECK_MESSAGE(c.adjoint.excess <= 1.0, c.what);
    }
    opt.given = &wrong;
    for (const Comparison &c : compare_gradients(gc, opt)) {
        bool corrupted = c.what == "d_t_input";
        CHECK_MESSAGE((c.fd.excess > 1.0) == corrupted, c.what);
        CHECK_MESSAGE((c.adjoint.excess > 1.0) == corrupted, c.what);
    }
}
