#include "compiler/GradientOracles.h"

#include "compiler/Jit.h"
#include "compiler/Loss.h"
#include "compiler/Lower.h"
#include "compiler/LowerForward.h"
#include "compiler/Random.h"

namespace netc::test {

std::vector<float> uniform_floats(size_t count, float lo, float hi, uint32_t stream) {
    uint32_t key = random::stream_key(0xbac4a2d5ULL, stream);
    std::vector<float> out(count);
    for (size_t i = 0; i < count; i++) out[i] = lo + (hi - lo) * random::uniform(key, (uint32_t)i);
    return out;
}

std::string model_source(const std::string &input, int classes, const std::string &body,
                         const std::string &train) {
    return "model m {\n  input " + input + "\n  classes " + std::to_string(classes) + "\n" + body +
           "\n}\n" + train;
}

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

namespace {

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

}  // namespace

void GradCheck::run_netc() {
    using namespace Halide;
    const ParamLayout &layout = fe_.layout;
    ImageParam params(Float(32), 1, "params"), images(Float(32), 2, "images");  // NCHW rows
    ImageParam labels(Int(32), 1, "labels");
    Halide::Target target = get_jit_target_from_environment();
    Forward fwd = lower_forward(train_, layout, Mode::Train, params, images, images.dim(1).extent(),
                                Expr(kRngKey), {labels});
    std::vector<int> outputs;
    for (const GradTarget &t : targets_) outputs.push_back(t.grad_node);
    for (int id : extra_) {
        if (std::find(outputs.begin(), outputs.end(), id) == outputs.end()) outputs.push_back(id);
    }
    schedule_nodes(train_, fwd, target, outputs);
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
    Buffer<float> ib(images_.data(), {(int)in.elements(), kBatch});
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

namespace {

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

/// Fractional max pooling as the first maximum of each region's taps, the regions' starts
/// (reference::fractional_intervals of the training draws of kRngKey) read from a table.
Halide::Func explicit_fractional_maxpool(const Node &node, const Halide::Func &in,
                                         const Shape &in_shape) {
    using namespace Halide;
    const Dims &d = dims();
    int k = (int)node.attrs.get_int("kernel");
    int h = (int)in_shape.dims[1], w = (int)in_shape.dims[2];
    int oh = (int)node.shape.dims[1], ow = (int)node.shape.dims[2];
    Buffer<int> xs(ow, kBatch), ys(oh, kBatch);
    for (int n = 0; n < kBatch; n++) {
        auto [ux, uy] = reference::fractional_draws(true, kRngKey, node.id, n);
        std::vector<int> sx = reference::fractional_intervals(ux, w, ow, k);
        std::vector<int> sy = reference::fractional_intervals(uy, h, oh, k);
        for (int i = 0; i < ow; i++) xs(i, n) = sx[i];
        for (int i = 0; i < oh; i++) ys(i, n) = sy[i];
    }
    Expr x0 = clamp(xs(clamp(d.x, 0, ow - 1), clamp(d.n, 0, kBatch - 1)), 0, w - k);
    Expr y0 = clamp(ys(clamp(d.y, 0, oh - 1), clamp(d.n, 0, kBatch - 1)), 0, h - k);
    std::vector<Expr> taps;
    for (int ky = 0; ky < k; ky++) {
        for (int kx = 0; kx < k; kx++) taps.push_back(in(d.c, x0 + kx, y0 + ky, d.n));
    }
    Func out("oracle_" + node.name);
    out(d.c, d.x, d.y, d.n) = first_max(taps);
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

}  // namespace

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
        } else if (op == "fractional_maxpool") {
            value[k] = explicit_fractional_maxpool(node, inputs[0], g.nodes[node.inputs[0]].shape);
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
    Expr label = clamp(labels(d.n), 0, classes - 1);  // bounded, as Derivative needs
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

namespace {

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

}  // namespace

/// Compares the targets of a GradCheck (those in `given`, if set) with both oracles.
std::vector<Comparison> compare_gradients(GradCheck &gc, const CheckOptions &opt) {
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
std::vector<std::string> check_gradients(GradCheck &gc, const CheckOptions &opt) {
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
void check_model(GradCheck &gc, const std::vector<std::string> &expected, const CheckOptions &opt) {
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

}  // namespace netc::test
