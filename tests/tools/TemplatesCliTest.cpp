// `netc templates` end to end through the built binary (NETC_BINARY): a linear classifier trained
// briefly on Fashion-MNIST, a CNN's filters from a PyTorch-style state_dict, and every kind of bad
// input (exit 1, a clear message, nothing written).

#include "runtime/Dataset.h"
#include "runtime/Safetensors.h"
#include "runtime/TestFiles.h"
#include "tools/RunNetc.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace fs = std::filesystem;
using netc::test::read_text;
using netc::test::TempDir;
using netc::test::write_text;

namespace {

using Run = netc::test::NetcRun;
using netc::test::run_netc_in;

std::string example(const std::string &name) {
    return std::string(NETC_SOURCE_DIR) + "/examples/" + name + ".net";
}

/// best.safetensors of examples/fashion_linear.net trained one epoch on 2,000 samples, once for
/// the whole test program.
const std::string &linear_checkpoint() {
    static TempDir dir;
    static const std::string path = [] {
        Run r = run_netc_in(dir.path(), "train '" + example("fashion_linear") +
                                            "' --limit 2000 --epochs 1 --out run");
        INFO(r.out, r.err);
        REQUIRE(r.status == 0);
        return dir / "run/best.safetensors";
    }();
    return path;
}

/// The width and height the PNG at `path` declares, read back by the runtime's image reader.
std::pair<int, int> png_size(const std::string &path) {
    auto shape = netc::runtime::read_image_shape(path);
    REQUIRE_MESSAGE(shape.ok(), shape.message());
    CHECK(shape->channels == 3);
    return {shape->width, shape->height};
}

}  // namespace

TEST_CASE("netc templates draws fashion_linear's ten class templates") {
    TempDir dir;
    Run r = run_netc_in(dir.path(), "templates '" + example("fashion_linear") + "' --weights '" +
                                        linear_checkpoint() + "' -o templates.png");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err == "");
    CHECK(r.out == "templates.png: 10 class templates, the weight rows of layer 'fc' (dense) "
                   "over the 1x28x28 image\n");
    // One row of ten 112-pixel tiles (4x), each in a cell as wide as the widest label
    // ("T-shirt/top", 130 pixels), 24 apart, 16 of margin; a title line above, labels below.
    CHECK(png_size(dir / "templates.png") == std::pair<int, int>{1548, 212});

    auto planes = netc::runtime::read_image(dir / "templates.png", {3, 212, 1548});
    REQUIRE(planes.ok());
    // The first tile, at (16 + 9, 56): its darkest weight black and its brightest white.
    float lo = 1, hi = 0;
    for (int y = 56; y < 56 + 112; y++) {
        for (int x = 25; x < 25 + 112; x++) {
            const float v = (*planes)[(size_t)y * 1548 + (size_t)x];
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    }
    CHECK(lo == 0.0f);
    CHECK(hi == 1.0f);

    SUBCASE("--scale and --columns") {
        Run s = run_netc_in(dir.path(), "templates '" + example("fashion_linear") +
                                            "' --weights '" + linear_checkpoint() +
                                            "' -o small.png --scale 2 --columns 5");
        INFO(s.err);
        REQUIRE(s.status == 0);
        // 56-pixel tiles take labels of the small font (64 pixels at most), two rows of five;
        // the title is wider than them.
        const auto [width, height] = png_size(dir / "small.png");
        CHECK(width < 1548);
        CHECK(height > 212);
    }
}

TEST_CASE("a CNN's first-layer filters, from weights without netc's metadata") {
    // A state_dict of examples/fashion_cnn.net as PyTorch would save it: every tensor by the
    // names and shapes `netc --emit=params` lists, conv1's filters each a ramp.
    TempDir dir;
    Run params = run_netc_in(dir.path(), "--emit=params '" + example("fashion_cnn") + "'");
    REQUIRE(params.status == 0);
    std::vector<std::vector<float>> data;
    std::vector<netc::runtime::TensorView> tensors;
    std::istringstream lines(params.out);
    std::string line;
    const std::regex entry(R"((\S+) \[([0-9, ]+)\] offset.*)");
    while (std::getline(lines, line)) {
        std::smatch m;
        if (line.rfind("total ", 0) == 0) continue;  // the arena's size, last
        REQUIRE(std::regex_match(line, m, entry));
        std::vector<int64_t> shape;
        std::istringstream dims(std::regex_replace(m[2].str(), std::regex(","), " "));
        for (int64_t d; dims >> d;) shape.push_back(d);
        std::vector<float> values((size_t)netc::runtime::elements(shape), 1.0f);
        for (size_t i = 0; m[1] == "conv1.weight" && i < values.size(); i++) values[i] = i % 9;
        data.push_back(std::move(values));
        tensors.push_back({m[1], netc::runtime::DType::F32, shape, nullptr});
    }
    REQUIRE(tensors.size() == 16);
    for (size_t i = 0; i < tensors.size(); i++) tensors[i].data = data[i].data();
    REQUIRE(netc::runtime::write_safetensors(dir / "cnn.safetensors", tensors).ok());

    Run r = run_netc_in(dir.path(), "templates '" + example("fashion_cnn") +
                                        "' --weights cnn.safetensors -o filters.png");
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "filters.png: 32 filters (1x3x3) of layer 'conv1' (conv2d): the model is not a "
                   "linear classifier, so its first layer's filters are drawn, not class "
                   "templates\n");
    // Six columns of 120-pixel tiles (40x), six rows; the title line is the widest.
    const auto [width, height] = png_size(dir / "filters.png");
    CHECK(width > 6 * 120);
    CHECK(height > 6 * 120);
}

TEST_CASE("bad input: exit 1, a message naming what is wrong, nothing written") {
    TempDir dir;
    write_text(dir / "templates.png", "an older picture");
    auto templates = [&](const std::string &model, const std::string &rest) {
        return run_netc_in(dir.path(), "templates '" + example(model) + "' " + rest);
    };
    const std::string weights = "--weights '" + linear_checkpoint() + "'";

    SUBCASE("a model whose first trained layer weighs hog features") {
        Run r = templates("fashion_hog_svm", weights);
        CHECK(r.status == 1);
        CHECK(r.err.find("fashion_hog_svm.net:12:3: error: layer 'fc' (dense), the model's first "
                         "trained layer, weighs the values of layer 'concat_1' (concat), not the "
                         "image's pixels: its weights are not over pixels, so they are not "
                         "images\n") != std::string::npos);
        CHECK(r.err.find("\n1 error in ") != std::string::npos);
    }
    SUBCASE("a kNN model") {
        Run r = templates("fashion_knn", weights);
        CHECK(r.status == 1);
        CHECK(r.err.find("is a kNN classifier") != std::string::npos);
    }
    SUBCASE("the checkpoint of another model") {
        Run r = templates("fashion_svm", weights);
        CHECK(r.status == 1);
        CHECK(r.err.find("fashion_linear") != std::string::npos);
        CHECK(r.err.find("fashion_svm") != std::string::npos);
    }
    SUBCASE("a checkpoint that is not there") {
        Run r = templates("fashion_linear", "--weights none.safetensors");
        CHECK(r.status == 1);
        CHECK(r.err.rfind("netc: error: none.safetensors: ", 0) == 0);
    }
    SUBCASE("a model file that is not there") {
        Run r = run_netc_in(dir.path(), "templates none.net " + weights);
        CHECK(r.status == 1);
        CHECK(r.err == "none.net: error: cannot open file: No such file or directory\n");
    }
    SUBCASE("a directory that is not there") {
        Run r = templates("fashion_linear", weights + " -o no/such/t.png");
        CHECK(r.status == 1);
        CHECK(r.err == "netc: error: no/such/t.png: cannot create a temporary file in no/such: No "
                       "such file or directory\n");
    }
    SUBCASE("another format than PNG") {
        Run r = templates("fashion_linear", weights + " -o t.jpg");
        CHECK(r.status == 1);
        CHECK(r.err == "netc: error: t.jpg: netc templates writes PNG; name the file .png\n");
    }
    SUBCASE("no --weights") {
        Run r = templates("fashion_linear", "");
        CHECK(r.status == 1);
        CHECK(r.err.find("--weights") != std::string::npos);
    }
    CHECK(read_text(dir / "templates.png") == "an older picture");
    CHECK(!fs::exists(dir / "t.jpg"));
}
