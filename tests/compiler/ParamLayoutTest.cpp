// The parameter arena of every example: tensor names and shapes as torch.nn names and shapes them,
// offsets (computed here from the sizes: each tensor starts at the next multiple of 16 floats),
// trainable totals and batchnorm buffers.
#include "compiler/Frontend.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    bool trainable = true;
};

netc::Frontend load_example(const std::string &name) {
    std::string read_error;
    netc::Frontend f = netc::load_model_file(
        std::string(NETC_SOURCE_DIR) + "/examples/" + name + ".net", read_error);
    REQUIRE(read_error == "");
    INFO(f.diags->render());
    REQUIRE(f.ok());
    return f;
}

int64_t elements(const std::vector<int64_t> &shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string str(const std::vector<int64_t> &shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); i++) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

/// torch.nn.BatchNorm2d(channels) / BatchNorm1d: weight, bias, then the two running buffers.
std::vector<Tensor> batchnorm(const std::string &name, int64_t channels) {
    return {{name + ".weight", {channels}},
            {name + ".bias", {channels}},
            {name + ".running_mean", {channels}, false},
            {name + ".running_var", {channels}, false}};
}

std::vector<Tensor> operator+(std::vector<Tensor> a, const std::vector<Tensor> &b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// Checks the layout entry by entry against `expected` and returns (trainable, buffer) floats.
std::pair<int64_t, int64_t> check_layout(const netc::ParamLayout &layout,
                                         const std::vector<Tensor> &expected) {
    REQUIRE(layout.entries.size() == expected.size());
    int64_t offset = 0, trainable = 0, buffers = 0;
    for (size_t i = 0; i < expected.size(); i++) {
        const netc::ParamEntry &e = layout.entries[i];
        const Tensor &t = expected[i];
        CAPTURE(t.name);
        offset = (offset + 15) / 16 * 16;
        CHECK(e.name == t.name);
        CHECK(e.shape.list_str() == str(t.shape));
        CHECK(e.size == elements(t.shape));
        CHECK(e.offset == offset);
        CHECK(e.offset % 16 == 0);
        CHECK(e.trainable() == t.trainable);
        offset += elements(t.shape);
        (t.trainable ? trainable : buffers) += elements(t.shape);
    }
    CHECK(layout.total == (offset + 15) / 16 * 16);
    CHECK(layout.total % 16 == 0);
    CHECK(layout.trainable == trainable);
    return {trainable, buffers};
}

}  // namespace

TEST_CASE("fashion_linear: one Linear(784, 10)") {
    netc::Frontend f = load_example("fashion_linear");
    auto [trainable, buffers] =
        check_layout(f.layout, {{"fc.weight", {10, 784}}, {"fc.bias", {10}}});
    CHECK(trainable == 7850);
    CHECK(buffers == 0);
    CHECK(f.layout.total == 7856);  // the bias starts at 7840
    CHECK(f.layout.find("fc.weight")->init.kind == netc::Initializer::Kind::Zeros);
}

TEST_CASE("fashion_svm: the same Linear(784, 10)") {
    netc::Frontend f = load_example("fashion_svm");
    auto [trainable, buffers] =
        check_layout(f.layout, {{"fc.weight", {10, 784}}, {"fc.bias", {10}}});
    CHECK(trainable == 7850);
    CHECK(buffers == 0);
}

TEST_CASE("fashion_mlp: 784-256-128-10") {
    netc::Frontend f = load_example("fashion_mlp");
    auto [trainable, buffers] = check_layout(f.layout, {{"fc1.weight", {256, 784}},
                                                        {"fc1.bias", {256}},
                                                        {"fc2.weight", {128, 256}},
                                                        {"fc2.bias", {128}},
                                                        {"fc3.weight", {10, 128}},
                                                        {"fc3.bias", {10}}});
    CHECK(trainable == 235146);
    CHECK(buffers == 0);
}

TEST_CASE("fashion_cnn: 421,834 trainable parameters and 192 buffer floats") {
    netc::Frontend f = load_example("fashion_cnn");
    auto [trainable, buffers] = check_layout(
        f.layout, std::vector<Tensor>{{"conv1.weight", {32, 1, 3, 3}}, {"conv1.bias", {32}}} +
                      batchnorm("bn1", 32) +
                      std::vector<Tensor>{{"conv2.weight", {64, 32, 3, 3}}, {"conv2.bias", {64}}} +
                      batchnorm("bn2", 64) +
                      std::vector<Tensor>{{"fc1.weight", {128, 3136}},
                                          {"fc1.bias", {128}},
                                          {"fc2.weight", {10, 128}},
                                          {"fc2.bias", {10}}});
    CHECK(trainable == 421834);
    CHECK(buffers == 192);
    // Spot checks written out by hand, independent of the offset rule above.
    CHECK(f.layout.find("conv1.bias")->offset == 288);
    CHECK(f.layout.find("bn1.weight")->offset == 320);
    CHECK(f.layout.find("conv2.weight")->offset == 448);
    CHECK(f.layout.find("fc1.weight")->offset == 19200);
    CHECK(f.layout.find("fc2.bias")->offset == 422016);
    CHECK(f.layout.total == 422032);
    // Initializers: batchnorm scale ones and shift zeros; running_var starts at one.
    CHECK(f.layout.find("bn1.weight")->init.kind == netc::Initializer::Kind::Ones);
    CHECK(f.layout.find("bn1.bias")->init.kind == netc::Initializer::Kind::Zeros);
    CHECK(f.layout.find("bn1.running_var")->init.kind == netc::Initializer::Kind::Ones);
    CHECK(f.layout.find("conv1.weight")->init.kind == netc::Initializer::Kind::HeNormal);
    CHECK(f.layout.find("fc2.weight")->init.kind == netc::Initializer::Kind::XavierUniform);
}

TEST_CASE("cifar_resnet: bias-free convolutions, a 1x1 projection, batchnorm everywhere") {
    netc::Frontend f = load_example("cifar_resnet");
    auto conv = [](const std::string &name, int64_t out, int64_t in, int64_t k) {
        return std::vector<Tensor>{{name + ".weight", {out, in, k, k}}};
    };
    std::vector<Tensor> expected = conv("stem_conv", 16, 3, 3) + batchnorm("stem_bn", 16) +
                                   conv("block1_conv1", 16, 16, 3) + batchnorm("block1_bn1", 16) +
                                   conv("block1_conv2", 16, 16, 3) + batchnorm("block1_bn2", 16) +
                                   conv("block2_conv1", 32, 16, 3) + batchnorm("block2_bn1", 32) +
                                   conv("block2_conv2", 32, 32, 3) + batchnorm("block2_bn2", 32) +
                                   conv("block2_proj", 32, 16, 1) +
                                   batchnorm("block2_proj_bn", 32) +
                                   conv("block3_conv1", 32, 32, 3) + batchnorm("block3_bn1", 32) +
                                   conv("block3_conv2", 32, 32, 3) + batchnorm("block3_bn2", 32) +
                                   std::vector<Tensor>{{"fc.weight", {10, 32}}, {"fc.bias", {10}}};
    auto [trainable, buffers] = check_layout(f.layout, expected);
    CHECK(trainable == 38554);
    CHECK(buffers == 2 * (16 * 3 + 32 * 5));
}

TEST_CASE("parameters of every op that has them, named and shaped as torch.nn does") {
    netc::Frontend f = netc::run_frontend("t.net", "model m {\n"
                                                   "  input 6x5x5\n"
                                                   "  classes 3\n"
                                                   "  c: conv2d(filters=4, kernel=2, bias=false)\n"
                                                   "  p: prelu\n"
                                                   "  q: prelu(shared=true, init=0.1)\n"
                                                   "  g: groupnorm(groups=2)\n"
                                                   "  l: layernorm\n"
                                                   "  n: layernorm(affine=false)\n"
                                                   "  b: batchnorm(affine=false)\n"
                                                   "  flatten\n"
                                                   "  d: dense(units=3)\n"
                                                   "}\n");
    INFO(f.diags->render());
    REQUIRE(f.ok());
    check_layout(f.layout, {{"c.weight", {4, 6, 2, 2}},
                            {"p.weight", {4}},  // torch.nn.PReLU(num_parameters=4)
                            {"q.weight", {1}},  // torch.nn.PReLU()
                            {"g.weight", {4}},
                            {"g.bias", {4}},
                            {"l.weight", {4, 4, 4}},  // LayerNorm([4, 4, 4])
                            {"l.bias", {4, 4, 4}},
                            {"b.running_mean", {4}, false},
                            {"b.running_var", {4}, false},
                            {"d.weight", {3, 64}},
                            {"d.bias", {3}}});
    const netc::ParamEntry *q = f.layout.find("q.weight");
    CHECK(q->init.kind == netc::Initializer::Kind::Constant);
    CHECK(q->init.value == 0.1);
    CHECK(q->role == netc::ParamRole::Slope);
    CHECK(f.layout.find("p.weight")->init.value == 0.25);
    CHECK(f.layout.find("g.weight")->role == netc::ParamRole::Norm);
    CHECK(f.layout.find("d.bias")->role == netc::ParamRole::Bias);
    CHECK(f.layout.find("c.weight")->role == netc::ParamRole::Weight);
    CHECK(f.layout.of_node(f.graph->nodes.back().id).size() == 2);
    CHECK(f.layout.find("nope") == nullptr);
}

TEST_CASE("of_node: each node's entries, in the op's order, for nodes with and without any") {
    netc::Frontend f = load_example("cifar_resnet");
    size_t seen = 0;
    for (const netc::Node &node : f.graph->nodes) {
        std::vector<const netc::ParamEntry *> mine = f.layout.of_node(node.id);
        std::vector<const netc::ParamEntry *> expected;
        for (const netc::ParamEntry &e : f.layout.entries) {
            if (e.node == node.id) expected.push_back(&e);
        }
        CAPTURE(node.name);
        CHECK(mine == expected);
        seen += mine.size();
    }
    CHECK(seen == f.layout.entries.size());
    CHECK(f.layout.of_node(-1).empty());
    CHECK(f.layout.of_node((int)f.graph->nodes.size()).empty());
}

TEST_CASE("the params dump lists name, torch shape and offset") {
    netc::Frontend f = load_example("fashion_linear");
    CHECK(netc::dump(f.layout) == "fc.weight [10, 784] offset 0\n"
                                  "fc.bias [10] offset 7840\n"
                                  "total 7856 floats, 7850 trainable\n");
}
