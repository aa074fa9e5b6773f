// Whole models: for every examples/*.net, JIT predict equals the reference composed op by op
// (tests/compiler/Reference.h) followed by softmax; and, for models whose two modes differ,
// the training-mode logits equal the reference's training-mode forward pass. A nearest-neighbour
// example has no parameters and no predict of its own: test_knn checks its pipelines against
// brute force, the example_fashion_knn test its object.
#include "compiler/ForwardHarness.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

using namespace netc;

namespace {

/// The examples with a trained classifier (not a nearest-neighbour one).
std::vector<std::string> example_files() {
    std::vector<std::string> files;
    for (const auto &entry :
         std::filesystem::directory_iterator(std::string(NETC_SOURCE_DIR) + "/examples")) {
        if (entry.path().extension() != ".net") continue;
        std::string error;
        Frontend fe = load_model_file(entry.path().string(), error);
        if (error.empty() && fe.ok() && fe.graph->is_knn()) continue;
        files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

bool has_op(const Graph &g, const char *op) {
    return std::any_of(g.nodes.begin(), g.nodes.end(),
                       [&](const Node &n) { return std::string(n.op->name) == op; });
}

// Initialized parameters, made non-trivial where init leaves them constant: batchnorm running
// statistics (so inference does not reduce to x / sqrt(1 + eps)), and tensors initialized to
// zeros, ones or a constant (a zero-initialized classifier would predict uniform probabilities
// whatever the code computed) get small random values around their initial value.
std::vector<float> example_params(JitModel &model, uint64_t seed) {
    const ParamLayout &layout = model.layout();
    std::vector<float> params((size_t)layout.total);
    model.init(seed, params.data());
    for (size_t k = 0; k < layout.entries.size(); k++) {
        const ParamEntry &e = layout.entries[k];
        bool constant = e.init.kind == Initializer::Kind::Zeros ||
                        e.init.kind == Initializer::Kind::Ones ||
                        e.init.kind == Initializer::Kind::Constant;
        if (!constant) continue;
        float lo = -0.1f, hi = 0.1f;
        if (e.suffix == "running_var") lo = -0.5f, hi = 1.0f;  // around 1: [0.5, 2)
        std::vector<float> noise = test::uniform_floats((size_t)e.size, lo, hi, 500u + (uint32_t)k);
        for (int64_t i = 0; i < e.size; i++) params[e.offset + i] += noise[i];
    }
    return params;
}

}  // namespace

TEST_CASE("every example: JIT predict equals the reference composed op by op") {
    std::vector<std::string> files = example_files();
    REQUIRE(files.size() >= 5);
    for (const std::string &file : files) {
        INFO(file);
        std::string error;
        Frontend fe = load_model_file(file, error);
        REQUIRE(error.empty());
        REQUIRE(fe.ok());
        const Graph &g = *fe.graph;
        JitModel model(g, fe.layout);
        std::vector<float> params = example_params(model, 3);
        for (int batch : {1, 3}) {
            INFO("batch " << batch);
            std::vector<float> images = test::uniform_floats((size_t)(g.input.elements() * batch),
                                                             -1.0f, 1.0f, 77u + (uint32_t)batch);
            std::vector<float> probs((size_t)(g.classes * batch));
            model.predict(params.data(), images.data(), batch, probs.data());
            reference::Tensor want =
                reference::predict(g, fe.layout, params.data(), images.data(), batch);
            test::Comparison c = test::compare(probs, want.data, 1e-4);
            CHECK_MESSAGE(c.ok, c.mismatches << " probabilities differ; worst: got " << c.got
                                             << ", want " << c.want);
            // Not trivially uniform: the parameters make the classes distinguishable.
            double spread = *std::max_element(want.data.begin(), want.data.end()) -
                            *std::min_element(want.data.begin(), want.data.end());
            CHECK(spread > 1e-3);
        }

        if (has_op(g, "batchnorm") || has_op(g, "dropout")) {
            INFO("training-mode logits");
            int batch = 3;
            std::vector<float> images =
                test::uniform_floats((size_t)(g.input.elements() * batch), -1.0f, 1.0f, 91u);
            uint32_t key = 4242;
            std::vector<float> logits = model.evaluate((int)g.nodes.size() - 1, Mode::Train,
                                                       params.data(), images.data(), batch, key);
            std::vector<reference::Tensor> values =
                reference::forward(g, fe.layout, params.data(), images.data(), batch, true, key);
            test::Comparison c = test::compare(logits, values.back().data, 1e-4);
            CHECK_MESSAGE(c.ok, c.mismatches << " logits differ; worst: got " << c.got << ", want "
                                             << c.want);
        }
    }
}
