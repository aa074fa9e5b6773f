// `netc FILE --weights CKPT --emit=mlir [--batch N] -o model.mlir` through the built binary: the
// function it writes at the batch asked, and its errors: a bad command line, a model with an op
// without an MLIR mapping (located, nothing written, an existing output kept). The checkpoint is
// read and checked by the code the ONNX export shares, which tests/tools/ExportOnnxCliTest.cpp
// covers.
#include "runtime/Safetensors.h"

#include "tools/RunNetc.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

using Run = netc::test::NetcRun;
using netc::test::run_netc;

const fs::path &scratch() {
    static struct Dir {
        fs::path path = fs::temp_directory_path() / ("netc_mlir_cli_" + std::to_string(getpid()));
        Dir() { fs::create_directories(path); }
        ~Dir() { fs::remove_all(path); }
    } dir;
    return dir.path;
}

std::string slurp(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

/// A state_dict's tensors for a model whose only parameters are fc.weight [10, inputs] and
/// fc.bias [10] (fashion_linear: 784 inputs; fashion_hog_svm: 1,312).
std::string write_fc_weights(const std::string &name, int64_t inputs) {
    static std::vector<float> weight, bias;
    weight.assign(10 * inputs, 0);
    for (size_t i = 0; i < weight.size(); i++) weight[i] = 0.01f * (float)(i % 13) - 0.06f;
    bias.assign(10, 0.1f);
    std::string path = (scratch() / name).string();
    netc::runtime::Status s = netc::runtime::write_safetensors(
        path, {{"fc.weight", netc::runtime::DType::F32, {10, inputs}, weight.data()},
               {"fc.bias", netc::runtime::DType::F32, {10}, bias.data()}});
    REQUIRE(s.ok());
    return path;
}

const std::string linear = "examples/fashion_linear.net";

}  // namespace

TEST_CASE("--emit=mlir writes the function at the batch of --batch, 1 by default") {
    std::string weights = write_fc_weights("linear.safetensors", 784);
    fs::path out = scratch() / "linear.mlir";
    Run r =
        run_netc(linear + " --weights " + weights + " --emit=mlir --batch 16 -o " + out.string());
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err == "");
    std::string text = slurp(out);
    CHECK(contains(text, "builtin.func @predict(%input: tensor<16x1x28x28xf32>) -> "
                         "tensor<16x10xf32> {\n"));
    CHECK(contains(text, "%fc = \"tosa.fully_connected\"(%flatten_1, %fc.weight, %fc.bias)"));
    // The bias as written: 0.1f is 0x3DCCCCCD, little-endian in the hex.
    CHECK(contains(text, "%fc.bias = \"tosa.const\"() {value = dense<\"0xCDCCCC3D"));
    Run plain = run_netc(linear + " --weights " + weights + " --emit=mlir -o " + out.string());
    CHECK(plain.status == 0);
    CHECK(contains(slurp(out), "tensor<1x1x28x28xf32>"));
    for (const auto &entry : fs::directory_iterator(scratch())) {
        CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
    }
}

TEST_CASE("--emit=mlir needs --weights and -o, and goes alone; --batch is for it only") {
    std::string weights = write_fc_weights("cli.safetensors", 784);
    Run no_weights = run_netc(linear + " --emit=mlir -o " + (scratch() / "a.mlir").string());
    CHECK(no_weights.status == 1);
    CHECK(contains(no_weights.err, "--emit=mlir needs the trained weights"));
    Run no_output = run_netc(linear + " --weights " + weights + " --emit=mlir");
    CHECK(no_output.status == 1);
    CHECK(
        contains(no_output.err, "netc FILE --weights CKPT --emit=mlir [--batch N] -o model.mlir"));
    Run mixed = run_netc(linear + " --weights " + weights + " --emit=mlir,onnx -o " +
                         (scratch() / "a.mlir").string());
    CHECK(mixed.status == 1);
    CHECK(contains(mixed.err, "writes one"));
    Run batch_alone = run_netc(linear + " --weights " + weights + " --batch 4 -o " +
                               (scratch() / "a.o").string());
    CHECK(batch_alone.status == 1);
    CHECK(contains(batch_alone.err, "--batch sets the batch of --emit=mlir"));
    Run zero = run_netc(linear + " --weights " + weights + " --emit=mlir --batch 0 -o " +
                        (scratch() / "a.mlir").string());
    CHECK(zero.status == 1);
    CHECK(contains(zero.err, "--batch"));
    CHECK(!fs::exists(scratch() / "a.mlir"));
    CHECK(!fs::exists(scratch() / "a.o"));
}

TEST_CASE("the feature extractors export: hog and color_histogram beside each other") {
    std::string weights = write_fc_weights("hog.safetensors", 1312);
    fs::path out = scratch() / "hog.mlir";
    Run r = run_netc("examples/fashion_hog_svm.net --weights " + weights + " --emit=mlir -o " +
                     out.string());
    INFO(r.err);
    REQUIRE(r.status == 0);
    std::string text = slurp(out);
    CHECK(contains(text, "%shape = \"tosa.reshape\"(%shape.l2hys) {new_shape = [1, 1296]}"));
    CHECK(contains(text, "%tone = \"tosa.reshape\"(%tone.fractions)"));
    CHECK(contains(text, "\"tosa.pow\"(%shape.strength, %shape.square_root)"));
}
