// `netc FILE --weights CKPT --emit=onnx -o model.onnx` through the built binary: what it writes
// from a weights-only checkpoint (a torch state_dict's tensors), and its errors: a missing or
// malformed checkpoint, one of another model or shape, non-finite values, a bad command line, an
// unwritable output; a failed export leaves an existing output as it was.
#include "runtime/Safetensors.h"

#include "onnx/onnx.pb.h"

#include "tools/RunNetc.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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
        fs::path path = fs::temp_directory_path() / ("netc_onnx_test_" + std::to_string(getpid()));
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

/// fashion_linear's tensors as a state_dict would hold them: fc.weight [10, 784], fc.bias [10].
std::string write_linear_weights(const std::string &name,
                                 std::vector<int64_t> weight_shape = {10, 784},
                                 float bias0 = 0.5f) {
    static std::vector<float> weight, bias;
    weight.assign(10 * 784, 0);
    for (size_t i = 0; i < weight.size(); i++) weight[i] = 0.01f * (float)(i % 13) - 0.06f;
    bias.assign(10, 0.1f);
    bias[0] = bias0;
    std::string path = (scratch() / name).string();
    netc::runtime::Status s = netc::runtime::write_safetensors(
        path, {{"fc.weight", netc::runtime::DType::F32, weight_shape, weight.data()},
               {"fc.bias", netc::runtime::DType::F32, {10}, bias.data()}});
    REQUIRE(s.ok());
    return path;
}

const std::string linear = "examples/fashion_linear.net";

}  // namespace

TEST_CASE("--emit=onnx writes the model from a weights-only checkpoint") {
    std::string weights = write_linear_weights("linear.safetensors");
    fs::path out = scratch() / "linear.onnx";
    Run r = run_netc(linear + " --weights " + weights + " --emit=onnx -o " + out.string());
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err == "");
    onnx::ModelProto model;
    REQUIRE(model.ParseFromString(slurp(out)));
    CHECK(model.graph().name() == "fashion_linear");
    std::vector<std::string> types;
    for (const auto &n : model.graph().node()) types.push_back(n.op_type());
    // No normalization recorded in the checkpoint: the graph starts at the layers.
    CHECK(types == std::vector<std::string>{"Flatten", "Gemm", "Softmax"});
    bool found = false;
    for (const auto &t : model.graph().initializer()) {
        if (t.name() != "fc.bias") continue;
        float first;
        std::memcpy(&first, t.raw_data().data(), sizeof first);
        found = first == 0.5f;
    }
    CHECK(found);
    CHECK(fs::directory_iterator(scratch()) != fs::directory_iterator());
    for (const auto &entry : fs::directory_iterator(scratch())) {
        CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
    }
}

TEST_CASE("a kNN model exports with its stored set, which its object does not carry") {
    fs::path run = scratch() / "knn_run";
    Run trained = run_netc("train examples/fashion_knn.net --data "
                           "/usr/share/datasets/fashion-mnist --limit 200 --out " +
                           run.string());
    INFO(trained.err);
    REQUIRE(trained.status == 0);
    const std::string ckpt = (run / "best.safetensors").string();
    fs::path out = scratch() / "knn.onnx";
    Run r =
        run_netc("examples/fashion_knn.net --weights " + ckpt + " --emit=onnx -o " + out.string());
    INFO(r.err);
    REQUIRE(r.status == 0);
    onnx::ModelProto model;
    REQUIRE(model.ParseFromString(slurp(out)));
    std::vector<int64_t> feature_dims, label_dims;
    for (const auto &t : model.graph().initializer()) {
        if (t.name() == "reference.features") feature_dims.assign(t.dims().begin(), t.dims().end());
        if (t.name() == "reference.labels") {
            label_dims.assign(t.dims().begin(), t.dims().end());
            CHECK(t.data_type() == onnx::TensorProto::INT64);
        }
    }
    CHECK(feature_dims == std::vector<int64_t>{180, 784});  // the training split of 200
    CHECK(label_dims == std::vector<int64_t>{180});
    const auto &nodes = model.graph().node();
    CHECK(std::any_of(nodes.begin(), nodes.end(),
                      [](const onnx::NodeProto &n) { return n.op_type() == "TopK"; }));
    CHECK(nodes[nodes.size() - 1].op_type() == "Div");  // the vote shares
    CHECK(model.graph().output(0).name() == "probs");

    // A checkpoint of parameters is not a kNN model's.
    Run other = run_netc("examples/fashion_knn.net --weights " +
                         write_linear_weights("not_knn.safetensors") + " --emit=onnx -o " +
                         (scratch() / "other.onnx").string());
    CHECK(other.status == 1);
    CHECK(contains(other.err, "not the checkpoint of a kNN model"));
    CHECK(!fs::exists(scratch() / "other.onnx"));
    // 60,000 images' features are no part of an object: the application passes them.
    Run object = run_netc("examples/fashion_knn.net --weights " + ckpt + " -o " +
                          (scratch() / "knn.o").string());
    CHECK(object.status == 1);
    CHECK(contains(object.err, "a kNN model's stored training set is not compiled in: leave out "
                               "--weights"));
    CHECK(!fs::exists(scratch() / "knn.o"));
}

TEST_CASE("--emit=onnx needs --weights and -o, and goes alone") {
    std::string weights = write_linear_weights("cli.safetensors");
    Run no_weights = run_netc(linear + " --emit=onnx -o " + (scratch() / "a.onnx").string());
    CHECK(no_weights.status == 1);
    CHECK(contains(no_weights.err, "--emit=onnx needs the trained weights"));
    Run no_output = run_netc(linear + " --weights " + weights + " --emit=onnx");
    CHECK(no_output.status == 1);
    CHECK(contains(no_output.err, "netc FILE --weights CKPT --emit=onnx -o model.onnx"));
    Run mixed = run_netc(linear + " --weights " + weights + " --emit=onnx,object -o " +
                         (scratch() / "a.o").string());
    CHECK(mixed.status == 1);
    CHECK(contains(mixed.err, "--emit=onnx writes one ONNX model and goes alone"));
    CHECK(!fs::exists(scratch() / "a.onnx"));
}

TEST_CASE("bad --weights are errors naming the file and what is wrong; the output is kept") {
    fs::path out = scratch() / "kept.onnx";
    std::ofstream(out) << "the previous model";
    auto check_refused = [&](const std::string &weights, const std::vector<std::string> &says,
                             const std::string &model = linear) {
        CAPTURE(weights);
        Run r = run_netc(model + " --weights " + weights + " --emit=onnx -o " + out.string());
        INFO(r.err);
        CHECK(r.status == 1);
        CHECK(r.err.rfind("netc: error: ", 0) == 0);
        for (const std::string &s : says) CHECK(contains(r.err, s));
        CHECK(slurp(out) == "the previous model");
    };
    fs::path missing = scratch() / "missing.safetensors";
    check_refused(missing.string(), {missing.string()});

    fs::path garbage = scratch() / "garbage.safetensors";
    std::ofstream(garbage) << "not a safetensors file at all";
    check_refused(garbage.string(), {garbage.string()});

    // Another shape, and another model's tensors: each difference on its own line.
    std::string narrow = write_linear_weights("narrow.safetensors", {10, 783});
    check_refused(narrow,
                  {"tensor 'fc.weight' has shape [10, 783] but the model expects [10, 784]"});
    std::string weights = write_linear_weights("mlp.safetensors");
    check_refused(weights,
                  {"missing tensor 'fc1.weight' (the model expects F32 [256, 784])",
                   "unexpected tensor 'fc.weight' F32 [10, 784]: the model has no such tensor"},
                  "examples/fashion_mlp.net");

    std::string nan = write_linear_weights("nan.safetensors", {10, 784}, std::nanf(""));
    check_refused(nan, {"tensor 'fc.bias' holds nan at index [0]", "--allow-nonfinite"});
    Run allowed = run_netc(linear + " --weights " + nan + " --allow-nonfinite --emit=onnx -o " +
                           out.string());
    CHECK(allowed.status == 0);
    CHECK(slurp(out) != "the previous model");
}

TEST_CASE("an output that cannot be written is an error naming it") {
    std::string weights = write_linear_weights("w.safetensors");
    fs::path out = scratch() / "no_such_dir" / "m.onnx";
    Run r = run_netc(linear + " --weights " + weights + " --emit=onnx -o " + out.string());
    CHECK(r.status == 1);
    CHECK(contains(r.err, out.string()));
    CHECK(!fs::exists(out));
}

TEST_CASE("a model with an error is reported as netc check reports it, nothing written") {
    fs::path bad = scratch() / "bad.net";
    std::ofstream(bad) << "model bad {\n  input 1x28x28\n  classes 10\n  flatten\n"
                          "  fc: dense(unit=10)\n}\n";
    std::string weights = write_linear_weights("bad.safetensors");
    fs::path out = scratch() / "bad.onnx";
    Run r = run_netc(bad.string() + " --weights " + weights + " --emit=onnx -o " + out.string());
    CHECK(r.status == 1);
    CHECK(contains(r.err, "bad.net:5:"));
    CHECK(!fs::exists(out));
}
