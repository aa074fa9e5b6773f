// FLOPs counted from the graph (compiler/Flops.h) against hand formulas: 2 per multiply-add in
// conv2d and dense (1 per output for the bias), the gradients as many multiply-adds as the forward.
#include "compiler/Flops.h"
#include "compiler/DeriveBackward.h"
#include "compiler/Frontend.h"
#include "compiler/ops/OpTable.h"

#include <doctest/doctest.h>

#include <string>

namespace {

netc::Graph load(const std::string &name) {
    std::string error;
    netc::Frontend f =
        netc::load_model_file(std::string(NETC_SOURCE_DIR) + "/examples/" + name + ".net", error);
    REQUIRE(error.empty());
    REQUIRE(f.ok());
    return *f.graph;
}

const netc::Node &node_named(const netc::Graph &g, const std::string &name) {
    for (const netc::Node &n : g.nodes) {
        if (n.name == name) return n;
    }
    FAIL("no node " << name);
    return g.nodes[0];
}

double flops_of(const netc::Graph &g, const netc::Node &n, int64_t batch) {
    return n.op->flops(g, n, batch);
}

}  // namespace

TEST_CASE("conv2d and dense count 2 per multiply-add and 1 per output for the bias") {
    netc::Graph g = load("fashion_cnn");
    // conv1: 1x28x28 -> 32x28x28, 3x3 taps over 1 channel
    CHECK(flops_of(g, node_named(g, "conv1"), 8) ==
          8 * (2.0 * 32 * 28 * 28 * 1 * 9 + 32 * 28 * 28));
    // conv2: 32x14x14 -> 64x14x14, 3x3 taps over 32 channels
    CHECK(flops_of(g, node_named(g, "conv2"), 8) ==
          8 * (2.0 * 64 * 14 * 14 * 32 * 9 + 64 * 14 * 14));
    // fc1: 3136 -> 128
    CHECK(flops_of(g, node_named(g, "fc1"), 8) == 8 * (2.0 * 3136 * 128 + 128));
    CHECK(flops_of(g, node_named(g, "fc2"), 1) == 2.0 * 128 * 10 + 10);
}

TEST_CASE("the fashion_cnn forward total, and its training step") {
    netc::Graph g = load("fashion_cnn");
    // Per sample, in graph order: conv1, bn1 (5 per element), relu, maxpool (4 taps per output),
    // conv2, bn2, relu, maxpool, flatten (0), fc1, relu, dropout, fc2.
    double per_sample = (2.0 * 25088 * 9 + 25088) + 5 * 25088 + 25088 + 4 * 6272 +
                        (2.0 * 12544 * 32 * 9 + 12544) + 5 * 12544 + 12544 + 4 * 3136 + 0 +
                        (2.0 * 3136 * 128 + 128) + 128 + 128 + (2.0 * 128 * 10 + 10);
    CHECK(per_sample == 8783754);  // 8.8 MFLOP per image, 88 % of it in the convolutions
    CHECK(netc::count_flops(g, 1) == per_sample);
    CHECK(netc::count_flops(g, 64) == 64 * per_sample);

    // Backward: dW of every conv and dense, dx of all but conv1 (the image needs no gradient),
    // each as many multiply-adds as the forward.
    netc::Graph train = netc::derive_backward(g);
    double matmul_grads = 0;
    int grads = 0;
    for (const netc::Node &n : train.nodes) {
        std::string op = n.op->name;
        if (op.rfind("conv2d_grad_", 0) != 0 && op.rfind("dense_grad_", 0) != 0) continue;
        const netc::Node &fwd = train.nodes[n.forward];
        double bias = fwd.attrs.get_bool("bias") ? (double)fwd.shape.elements() : 0;
        CHECK(flops_of(train, n, 1) == flops_of(train, fwd, 1) - bias);
        matmul_grads += flops_of(train, n, 1);
        grads++;
    }
    CHECK(grads == 7);
    CHECK(matmul_grads == 2.0 * (25088 * 9 + 2 * 12544 * 32 * 9 + 2 * 3136 * 128 + 2 * 128 * 10));
    double step = netc::count_train_step_flops(g, 64);
    // The rest (normalization, pooling and activation gradients, the loss, adam's update of
    // 421,834 parameters) is a few percent of the step.
    CHECK(step > 64 * (per_sample + matmul_grads));
    CHECK(step < 1.05 * 64 * (per_sample + matmul_grads));
}

TEST_CASE("every op of the table has a FLOP rule, and every example counts") {
    for (const char *name : {"fashion_linear", "fashion_svm", "fashion_mlp", "cifar_resnet"}) {
        CAPTURE(name);
        netc::Graph g = load(name);
        CHECK(netc::count_flops(g, 2) > 0);
        if (!netc::op_without_backward(g)) {
            CHECK(netc::count_train_step_flops(g, 2) > 2 * netc::count_flops(g, 2));
        }
    }
    for (const netc::OpDef *op : netc::all_ops()) {
        CAPTURE(op->name);
        CHECK((op->flops != nullptr));
    }
}
