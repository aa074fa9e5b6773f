// Shape inference per op. Window ops are swept over odd and even sizes and stride, padding and
// dilation combinations, against PyTorch's output-size formula computed here independently:
// out = floor((in + 2*pad - dilation*(kernel-1) - 1) / stride) + 1 (Conv2d, MaxPool2d, AvgPool2d
// with ceil_mode=False).
#include "compiler/Frontend.h"
#include "compiler/ops/OpTable.h"

#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace {

struct Probe {
    bool ok = false;
    std::string shape;   // "8x13x13"
    std::string errors;  // rendered diagnostics when not ok
};

/// Runs `layers` (ending in a layer labelled `probe`) on an input of shape `input`, then
/// flattens to the classifier, and reports the probe's shape.
Probe probe(const std::string &input, const std::string &layers) {
    std::string text = "model m {\n  input " + input + "\n  classes 2\n" + layers +
                       "\n  flatten\n  dense(units=2)\n}\n";
    netc::Frontend f = netc::run_frontend("t.net", text);
    Probe out;
    out.ok = f.ok();
    if (!f.ok()) {
        out.errors = f.diags->render();
        return out;
    }
    for (const netc::Node &n : f.graph->nodes) {
        if (n.name == "probe") out.shape = n.shape.str();
    }
    REQUIRE(!out.shape.empty());
    return out;
}

/// PyTorch's output size, written from its documentation rather than from netc's code.
int64_t torch_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
    double numerator = (double)(in + 2 * pad - dilation * (kernel - 1) - 1);
    return (int64_t)std::floor(numerator / (double)stride) + 1;
}

std::string dims(int64_t c, int64_t h, int64_t w) {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

}  // namespace

TEST_CASE("conv2d: PyTorch's output size over sizes, kernels, strides, pads and dilations") {
    int valid = 0, rejected = 0;
    for (int64_t h : {1, 2, 3, 4, 5, 7, 8, 9, 12, 17, 28, 31}) {
        int64_t w = h + 3;  // non-square, so H and W cannot be swapped unnoticed
        for (int64_t k : {1, 2, 3, 5}) {
            for (int64_t s : {1, 2, 3}) {
                for (int64_t p : {0, 1, 2}) {
                    for (int64_t d : {1, 2, 3}) {
                        std::string attrs = "filters=5, kernel=" + std::to_string(k) +
                                            ", stride=" + std::to_string(s) +
                                            ", pad=" + std::to_string(p) +
                                            ", dilation=" + std::to_string(d);
                        CAPTURE(h);
                        CAPTURE(attrs);
                        Probe r = probe(dims(3, h, w), "  probe: conv2d(" + attrs + ")");
                        int64_t oh = torch_out(h, k, s, p, d), ow = torch_out(w, k, s, p, d);
                        if (oh >= 1 && ow >= 1) {
                            valid++;
                            CHECK(r.ok);
                            CHECK(r.shape == dims(5, oh, ow));
                        } else {
                            rejected++;
                            CHECK(!r.ok);
                            CHECK(r.errors.find("error: layer 'probe' (conv2d): kernel " +
                                                std::to_string(k) + " with dilation " +
                                                std::to_string(d) + " and pad " +
                                                std::to_string(p)) != std::string::npos);
                        }
                    }
                }
            }
        }
    }
    // Both outcomes are exercised.
    CHECK(valid > 1000);
    CHECK(rejected > 50);
}

TEST_CASE("maxpool and avgpool: PyTorch's output size; stride defaults to the kernel") {
    for (const char *op : {"maxpool", "avgpool"}) {
        for (int64_t h : {1, 2, 3, 4, 5, 6, 7, 9, 13, 28}) {
            int64_t w = h + 2;
            for (int64_t k : {1, 2, 3, 4}) {
                for (int64_t s : {0, 1, 2, 3}) {  // 0: not given
                    for (int64_t p : {0, 1, 2}) {
                        std::string attrs = "kernel=" + std::to_string(k) +
                                            ", pad=" + std::to_string(p) +
                                            (s ? ", stride=" + std::to_string(s) : "");
                        CAPTURE(op);
                        CAPTURE(h);
                        CAPTURE(attrs);
                        Probe r =
                            probe(dims(2, h, w), std::string("  probe: ") + op + "(" + attrs + ")");
                        int64_t stride = s ? s : k;
                        int64_t oh = torch_out(h, k, stride, p, 1);
                        int64_t ow = torch_out(w, k, stride, p, 1);
                        if (2 * p > k) {
                            // PyTorch: "pad should be at most half of effective kernel size".
                            CHECK(!r.ok);
                            CHECK(r.errors.find("pad " + std::to_string(p) +
                                                " is more than half the kernel " +
                                                std::to_string(k)) != std::string::npos);
                        } else if (oh >= 1 && ow >= 1) {
                            CHECK(r.ok);
                            CHECK(r.shape == dims(2, oh, ow));
                        } else {
                            CHECK(!r.ok);
                            CHECK(r.errors.find("does not fit the input " + dims(2, h, w)) !=
                                  std::string::npos);
                        }
                    }
                }
            }
        }
    }
}

TEST_CASE("global_avgpool and flatten") {
    CHECK(probe("7x5x3", "  probe: global_avgpool").shape == "7");
    CHECK(probe("7x5x3", "  probe: flatten").shape == "105");
    CHECK(probe("1x1x1", "  probe: flatten").shape == "1");
    // flatten of a flat value changes nothing.
    CHECK(probe("2x3x4", "  flatten\n  probe: flatten").shape == "24");
    Probe flat = probe("2x3x4", "  flatten\n  probe: global_avgpool");
    CHECK(!flat.ok);
    CHECK(flat.errors.find("global_avgpool expects an image input CxHxW, got 24") !=
          std::string::npos);
}

TEST_CASE("dense: [F] -> [units]") {
    CHECK(probe("3x5x5", "  flatten\n  probe: dense(units=13)").shape == "13");
    CHECK(probe("3x5x5", "  flatten\n  probe: dense(units=1, bias=false)").shape == "1");
}

TEST_CASE("elementwise ops keep the shape, on images and on flat vectors") {
    for (const char *layer :
         {"sigmoid", "tanh", "relu", "leaky_relu(alpha=0.1)", "prelu", "prelu(shared=true)", "elu",
          "selu", "gelu", "gelu(approximate=tanh)", "dropout(p=0.3)", "batchnorm",
          "batchnorm(affine=false)", "layernorm", "groupnorm(groups=3)"}) {
        CAPTURE(layer);
        CHECK(probe("6x7x5", std::string("  probe: ") + layer).shape == "6x7x5");
        CHECK(probe("6x7x5", std::string("  flatten\n  probe: ") + layer).shape == "210");
    }
}

TEST_CASE("groupnorm and maxout need channels divisible by groups and pieces") {
    CHECK(probe("12x3x3", "  probe: groupnorm(groups=12)").shape == "12x3x3");
    CHECK(probe("12x3x3", "  probe: groupnorm(groups=1)").shape == "12x3x3");
    CHECK(probe("12x3x3", "  probe: maxout(pieces=4)").shape == "3x3x3");
    CHECK(probe("12x3x3", "  flatten\n  probe: maxout(pieces=9)").shape == "12");
    CHECK(probe("12x3x3", "  probe: groupnorm(groups=5)").errors ==
          "t.net:4:3: error: layer 'probe' (groupnorm): groups=5 does not divide the 12 channels "
          "of the input 12x3x3\n"
          "    probe: groupnorm(groups=5)\n"
          "    ^\n");
    CHECK(probe("12x3x3", "  probe: maxout(pieces=5)").errors ==
          "t.net:4:3: error: layer 'probe' (maxout): maxout with pieces=5 needs channels "
          "divisible by 5, got 12x3x3\n"
          "    probe: maxout(pieces=5)\n"
          "    ^\n");
}

TEST_CASE("add: any number of inputs of one shape") {
    CHECK(probe("4x6x6", "  a: relu\n  probe: add(a, input)").shape == "4x6x6");
    CHECK(probe("4x6x6", "  a: relu\n  b: tanh(input)\n  probe: add(a, b, input)").shape ==
          "4x6x6");
    // One named input: the previous layer is the other.
    CHECK(probe("4x6x6", "  relu\n  probe: add(input)").shape == "4x6x6");
    Probe bad = probe("4x6x6", "  a: conv2d(filters=4)\n  probe: add(a, input)");
    CHECK(
        bad.errors.find("add expects inputs of one shape; input 1 is 4x4x4 but input 2 is 4x6x6") !=
        std::string::npos);
}

TEST_CASE("concat: channels add up; the other sizes must agree") {
    CHECK(probe("4x6x6", "  a: conv2d(filters=3, pad=1)\n  probe: concat(a, input)").shape ==
          "7x6x6");
    CHECK(probe("4x6x6", "  a: conv2d(filters=3, pad=1)\n  probe: concat(a, input, a)").shape ==
          "10x6x6");
    CHECK(probe("4x6x6", "  flatten\n  a: dense(units=5)\n  probe: concat(a, flatten_1)").shape ==
          "149");
    Probe rank = probe("4x6x6", "  flatten\n  probe: concat(input)");
    CHECK(rank.errors.find("concat expects inputs that differ only in channels; input 1 is 144 "
                           "but input 2 is 4x6x6") != std::string::npos);
}

TEST_CASE("every op in the op table has a shape case") {
    // One case per op, on a 6x4x4 input; a new op must add its line here.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"dense", "  flatten\n  probe: dense(units=3) : 3"},
        {"conv2d", "  probe: conv2d(filters=2, kernel=3, stride=2, pad=1) : 2x2x2"},
        {"maxpool", "  probe: maxpool(kernel=3, stride=1) : 6x2x2"},
        {"fractional_maxpool", "  probe: fractional_maxpool(ratio=0.5) : 6x2x2"},
        {"avgpool", "  probe: avgpool(kernel=2) : 6x2x2"},
        {"global_avgpool", "  probe: global_avgpool : 6"},
        {"flatten", "  probe: flatten : 96"},
        {"add", "  relu\n  probe: add(input) : 6x4x4"},
        {"concat", "  relu\n  probe: concat(input) : 12x4x4"},
        {"sigmoid", "  probe: sigmoid : 6x4x4"},
        {"tanh", "  probe: tanh : 6x4x4"},
        {"relu", "  probe: relu : 6x4x4"},
        {"leaky_relu", "  probe: leaky_relu : 6x4x4"},
        {"prelu", "  probe: prelu : 6x4x4"},
        {"elu", "  probe: elu : 6x4x4"},
        {"selu", "  probe: selu : 6x4x4"},
        {"maxout", "  probe: maxout(pieces=2) : 3x4x4"},
        {"gelu", "  probe: gelu : 6x4x4"},
        {"batchnorm", "  probe: batchnorm : 6x4x4"},
        {"layernorm", "  probe: layernorm : 6x4x4"},
        {"groupnorm", "  probe: groupnorm(groups=2) : 6x4x4"},
        {"dropout", "  probe: dropout : 6x4x4"},
        {"stochastic_depth", "  probe: stochastic_depth(p=0.2, mode=batch) : 6x4x4"},
        {"hog", "  probe: hog(cell=2) : 36"},
        {"color_histogram", "  probe: color_histogram(bins=4) : 24"},
    };
    std::set<std::string> covered;
    for (const auto &[op, text] : cases) {
        const std::string line = text;  // clang 14 cannot capture a structured binding
        CAPTURE(line);
        size_t colon = line.rfind(" : ");
        Probe r = probe("6x4x4", line.substr(0, colon));
        CHECK(r.shape == line.substr(colon + 3));
        covered.insert(op);
    }
    for (const netc::OpDef *op : netc::all_ops()) {
        CAPTURE(op->name);
        CHECK((!op->user_visible || covered.count(op->name) == 1));
    }
}
