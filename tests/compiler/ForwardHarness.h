#pragma once
// What the forward-lowering tests share: deterministic random inputs and parameters, an
// element-by-element comparison with a readable report, and a harness that compiles one model
// once and checks any of its nodes against the reference (tests/compiler/Reference.h) applied
// to the JIT-evaluated values of that node's inputs, so errors do not compound along a chain.

#include "compiler/Frontend.h"
#include "compiler/Jit.h"
#include "compiler/Reference.h"

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace netc::test {

/// `count` numbers uniform in [lo, hi), a pure function of `stream` (netc::random, so the
/// same on every machine and standard library).
std::vector<float> uniform_floats(size_t count, float lo, float hi, uint32_t stream);

/// A random arena: weights and biases uniform in [-0.5, 0.5), normalization scales in
/// [0.5, 1.5), shifts and running means in [-0.5, 0.5), running variances in [0.5, 2), prelu
/// slopes in [-0.5, 0.5); alignment padding 0.
std::vector<float> random_params(const ParamLayout &layout, uint32_t stream);

struct Comparison {
    bool ok = true;
    size_t mismatches = 0;
    size_t worst = 0;          // the index of the largest error, scaled by the tolerance
    double got = 0, want = 0;  // at `worst`
    std::string what;          // set when the sizes differ
};

/// Element i matches when |got - want| <= tol * (1 + |want|): relative and absolute tolerance.
Comparison compare(const std::vector<float> &got, const std::vector<double> &want, double tol);

/// One model, compiled once per (node, mode) by a JitModel, random parameters.
class ForwardHarness {
public:
    /// Runs the front end on `source`; a model that does not compile fails the test.
    explicit ForwardHarness(const std::string &source, float input_lo = -2.0f,
                            float input_hi = 2.0f);

    const Graph &graph() const { return *frontend_.graph; }
    const ParamLayout &layout() const { return frontend_.layout; }
    JitModel &model() { return *model_; }
    std::vector<float> &params() { return params_; }

    /// The id of the node with this name; fails the test if there is none.
    int node(const std::string &name) const;
    /// The images of a batch, (batch, C, H, W): fixed random numbers per batch size.
    const std::vector<float> &images(int batch);
    /// The JIT value of a node (NCHW or (N, F)); the input node's value is the images themselves.
    const std::vector<float> &value(int node, Mode mode, int batch, uint32_t rng_key);

    /// Checks node `name` in `mode` at each batch size against reference::apply on the JIT
    /// values of its inputs. Reports the node, mode, batch and worst element on failure.
    void check(const std::string &name, Mode mode = Mode::Infer,
               const std::vector<int> &batches = {1, 3, 5}, uint32_t rng_key = 7,
               double tol = 1e-4);
    /// check() in both modes.
    void check_both(const std::string &name, const std::vector<int> &batches = {1, 3, 5});

private:
    Frontend frontend_;
    std::unique_ptr<JitModel> model_;
    std::vector<float> params_;
    float input_lo_, input_hi_;
    std::map<int, std::vector<float>> images_;
    std::map<std::tuple<int, int, int, uint32_t>, std::vector<float>> values_;
};

/// "model m {\n input <input>\n classes <classes>\n <body>\n}\n"
std::string model_source(const std::string &input, int classes, const std::string &body);

}  // namespace netc::test
