#include "compiler/ForwardHarness.h"

#include "compiler/Random.h"

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

namespace netc::test {

std::vector<float> uniform_floats(size_t count, float lo, float hi, uint32_t stream) {
    uint32_t key = random::stream_key(0x5eed7e57ULL, stream);
    std::vector<float> out(count);
    for (size_t i = 0; i < count; i++) out[i] = lo + (hi - lo) * random::uniform(key, (uint32_t)i);
    return out;
}

std::vector<float> random_params(const ParamLayout &layout, uint32_t stream) {
    std::vector<float> params((size_t)layout.total, 0.0f);
    for (size_t k = 0; k < layout.entries.size(); k++) {
        const ParamEntry &e = layout.entries[k];
        float lo = -0.5f, hi = 0.5f;
        if (e.suffix == "running_var")
            lo = 0.5f, hi = 2.0f;
        else if (e.role == ParamRole::Norm && e.suffix == "weight")
            lo = 0.5f, hi = 1.5f;
        std::vector<float> v = uniform_floats((size_t)e.size, lo, hi, stream * 7919u + (uint32_t)k);
        std::copy(v.begin(), v.end(), params.begin() + e.offset);
    }
    return params;
}

Comparison compare(const std::vector<float> &got, const std::vector<double> &want, double tol) {
    Comparison c;
    if (got.size() != want.size()) {
        c.ok = false;
        c.what =
            "got " + std::to_string(got.size()) + " values, want " + std::to_string(want.size());
        return c;
    }
    double worst_ratio = -1;
    for (size_t i = 0; i < got.size(); i++) {
        double err = std::abs((double)got[i] - want[i]);
        double ratio = err / (tol * (1.0 + std::abs(want[i])));
        if (!(ratio <= 1.0)) {  // NaN fails too
            c.ok = false;
            c.mismatches++;
            if (std::isnan(ratio)) ratio = INFINITY;
        }
        if (ratio > worst_ratio) worst_ratio = ratio, c.worst = i, c.got = got[i], c.want = want[i];
    }
    return c;
}

std::string model_source(const std::string &input, int classes, const std::string &body) {
    return "model m {\n  input " + input + "\n  classes " + std::to_string(classes) + "\n" + body +
           "\n}\n";
}

ForwardHarness::ForwardHarness(const std::string &source, float input_lo, float input_hi)
    : frontend_(run_frontend("test.net", source)), input_lo_(input_lo), input_hi_(input_hi) {
    if (!frontend_.ok()) {
        std::ostringstream out;
        frontend_.diags->print(out);
        FAIL("the test model does not compile:\n" << out.str() << "\n" << source);
    }
    model_ = std::make_unique<JitModel>(*frontend_.graph, frontend_.layout);
    params_ = random_params(frontend_.layout, 1);
}

int ForwardHarness::node(const std::string &name) const {
    for (const Node &n : graph().nodes) {
        if (n.name == name) return n.id;
    }
    FAIL("no node named " << name);
    return -1;
}

const std::vector<float> &ForwardHarness::images(int batch) {
    std::vector<float> &im = images_[batch];
    if (im.empty()) {
        im = uniform_floats((size_t)(graph().input.elements() * batch), input_lo_, input_hi_,
                            1000u + (uint32_t)batch);
    }
    return im;
}

const std::vector<float> &ForwardHarness::value(int node, Mode mode, int batch, uint32_t rng_key) {
    if (node == 0) return images(batch);
    std::vector<float> &v = values_[{node, (int)mode, batch, rng_key}];
    if (v.empty())
        v = model_->evaluate(node, mode, params_.data(), images(batch).data(), batch, rng_key);
    return v;
}

namespace {

// "n=1 c=2 y=0 x=3" for an NCHW index, "n=1 f=2" for (N, F).
std::string position(const Shape &s, size_t i) {
    std::ostringstream out;
    if (s.rank() == 3) {
        size_t w = s.dims[2], h = s.dims[1], c = s.dims[0];
        out << "n=" << i / (c * h * w) << " c=" << i / (h * w) % c << " y=" << i / w % h
            << " x=" << i % w;
    } else {
        out << "n=" << i / s.dims[0] << " f=" << i % s.dims[0];
    }
    return out.str();
}

}  // namespace

void ForwardHarness::check(const std::string &name, Mode mode, const std::vector<int> &batches,
                           uint32_t rng_key, double tol) {
    const Node &node = graph().nodes[this->node(name)];
    bool train = mode == Mode::Train;
    for (int batch : batches) {
        std::vector<reference::Tensor> inputs;
        for (int id : node.inputs) {
            inputs.push_back(reference::Tensor::from(graph().nodes[id].shape, batch,
                                                     value(id, mode, batch, rng_key).data()));
        }
        std::vector<const reference::Tensor *> pointers;
        for (const reference::Tensor &t : inputs) pointers.push_back(&t);
        reference::Tensor want =
            reference::apply(graph(), layout(), params_.data(), node, pointers, train, rng_key);
        REQUIRE(want.shape == node.shape);
        const std::vector<float> &got = value(node.id, mode, batch, rng_key);
        Comparison c = compare(got, want.data, tol);
        std::ostringstream report;
        report << node.name << " = " << node.op->name << "(" << node.attrs.str(node.op->attrs)
               << ") : " << node.shape.str() << ", " << (train ? "train" : "infer") << ", batch "
               << batch << ": ";
        if (!c.what.empty()) {
            report << c.what;
        } else {
            report << c.mismatches << " of " << got.size() << " values differ; worst at "
                   << position(node.shape, c.worst) << ": got " << c.got << ", want " << c.want;
        }
        CHECK_MESSAGE(c.ok, report.str());
    }
}

void ForwardHarness::check_both(const std::string &name, const std::vector<int> &batches) {
    check(name, Mode::Infer, batches);
    check(name, Mode::Train, batches);
}

}  // namespace netc::test
