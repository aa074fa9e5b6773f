#pragma once
// The two gradient oracles of the backward tests (tests/compiler/BackwardTest.cpp):
//  (a) central finite differences of the batch-mean loss (Caffe's GradientChecker), computed in
//      double from the plain C++ forward references (tests/compiler/Reference.h), so neither the
//      Halide forward lowering nor float rounding is part of this oracle; entries whose one-sided
//      slopes differ (a kink within the step: relu at 0, a tie in a max, the hinge at its
//      margin, |w| at 0) are skipped, and only a few may be;
//  (b) Halide's propagate_adjoints (Halide::Derivative) applied to the Funcs of netc's forward
//      lowering, except where Derivative cannot take them: max pooling and maxout become the
//      first maximum of their terms as a select chain (Derivative has no gradient for argmax or
//      maximum(), and its max() sends a tie to both sides; fractional max pooling reads its
//      regions from a table of the reference's), average pooling an unrolled sum,
//      flatten a masked sum (it mis-inverts the division and modulo of the index), and the loss
//      is written without maximum().
// GradCheck holds one model, its training graph, random parameters, images and labels, runs
// netc's backward nodes and both oracles, and check_model() compares them.
#include "compiler/DeriveBackward.h"
#include "compiler/Frontend.h"
#include "compiler/Reference.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace netc::test {

using reference::Tensor;

inline constexpr uint32_t kRngKey = 0x2545f491u;  // the dropout stream of every pipeline here
inline constexpr int kBatch = 3;

/// `count` floats uniform in [lo, hi), a function of `stream` only.
std::vector<float> uniform_floats(size_t count, float lo, float hi, uint32_t stream);

/// The text of a model `m` with this input, classes, layers and optional train block.
std::string model_source(const std::string &input, int classes, const std::string &body,
                         const std::string &train = "");

/// Regularization as the test expects it, written from the language's rules, not from
/// LowerTrain: loss += l1 sum |w| + l2 sum w^2 over each tensor that `applies`.
struct ExpectedReg {
    std::function<bool(const ParamEntry &)> applies;
    std::function<double(const ParamEntry &)> l1, l2;
};

double reg_value(const ParamLayout &layout, const ExpectedReg &reg, const float *params);

/// What a gradient is taken with respect to.
struct GradTarget {
    std::string what;                   // "fc.weight", "d_tanh1_input", "d_logits"
    int grad_node = -1;                 // the backward node computing it (-1: the arena)
    const ParamEntry *param = nullptr;  // a parameter tensor
    int consumer = -1, input = 0;       // an edge: what node `consumer` reads as inputs[input]
    bool logits = false;                // dL/dlogits
    int64_t size = 0;                   // elements (values: batch included)
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
        double total = 0;  // -sum_j t_j log p_j, t = (1 - e) onehot(y) + e / K
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

/// How check_gradients compares.
struct CheckOptions {
    const ExpectedReg *reg = nullptr;  // regularization added to the loss
    // The gradients under test by target name; null: the backward nodes realized by run_netc().
    const std::map<std::string, std::vector<float>> *given = nullptr;
    double min_smooth = 0.75;  // the share of sampled entries that must be away from kinks
};

/// One gradient against both oracles: the worst element of each, scaled by the tolerance.
struct Comparison {
    std::string what;
    size_t sampled = 0, smooth = 0;  // finite-difference entries sampled, and away from kinks
    Mismatch fd, adjoint;            // excess <= 1: within tolerance
};

/// Compares the targets of a GradCheck (those in `given`, if set) with both oracles.
std::vector<Comparison> compare_gradients(GradCheck &gc, const CheckOptions &opt = {});

/// compare_gradients, each gradient required to match both oracles. Returns the names checked.
std::vector<std::string> check_gradients(GradCheck &gc, const CheckOptions &opt = {});

/// The netc pipeline, then both oracles on every gradient, and the reported per-sample loss
/// against the double loss. Fails if any name in `expected` was not among the gradients.
void check_model(GradCheck &gc, const std::vector<std::string> &expected,
                 const CheckOptions &opt = {});

}  // namespace netc::test
