// AOT end to end: netc writes an object and header, a plain C program links it with `cc` (no
// libHalide on the link line), runs, and matches the JIT's parameters bit for bit and its
// probabilities to 1e-5; the bad-argument return codes are exercised.
#include "compiler/Frontend.h"
#include "compiler/Jit.h"
#include "runtime/Batcher.h"
#include "runtime/Safetensors.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;

namespace {

int run(const std::string &command) {
    int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string upper(std::string s) {
    for (char &c : s) c = (char)std::toupper((unsigned char)c);
    return s;
}

/// The model at `path` (relative to the source tree).
void check_model(const std::string &file, int batch) {
    std::string path = std::string(NETC_SOURCE_DIR) + "/" + file;
    std::string example = fs::path(file).stem().string();
    std::string read_error;
    netc::Frontend f = netc::load_model_file(path, read_error);
    REQUIRE(f.ok());
    const netc::Graph &g = *f.graph;
    fs::path dir = fs::temp_directory_path() / ("netc_aot_" + example);
    fs::remove_all(dir);
    fs::create_directories(dir);

    REQUIRE(run(std::string(NETC_BINARY) + " " + path + " -o " +
                (dir / (g.model + ".o")).string()) == 0);
    REQUIRE(fs::exists(dir / (g.model + ".h")));
    std::string cc = "cc -std=c99 -Wall -Wextra -Werror -O1 -DMODEL=" + g.model +
                     " -DMODEL_UPPER=" + upper(g.model) + " -include " +
                     (dir / (g.model + ".h")).string() + " " + NETC_SOURCE_DIR +
                     "/tests/compiler/aot_check.c " + (dir / (g.model + ".o")).string() +
                     " -lpthread -ldl -lm -o " + (dir / "aot_check").string();
    REQUIRE(run(cc) == 0);

    std::vector<float> images((size_t)g.input.elements() * batch);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0, 1);
    for (float &v : images) v = u(rng);
    {
        std::ofstream out(dir / "images.bin", std::ios::binary);
        out.write((const char *)images.data(), images.size() * sizeof(float));
    }
    uint64_t seed = 0x1234567890abcdefULL;
    REQUIRE(run((dir / "aot_check").string() + " " + std::to_string(seed) + " " +
                std::to_string(batch) + " " + (dir / "images.bin").string() + " " +
                (dir / "out.bin").string()) == 0);

    std::vector<float> aot_params(f.layout.total), aot_probs((size_t)g.classes * batch);
    std::vector<float> aot_trained(f.layout.total);
    int32_t codes[8];
    float aot_loss = 0;
    std::ifstream in(dir / "out.bin", std::ios::binary);
    in.read((char *)aot_params.data(), aot_params.size() * sizeof(float));
    in.read((char *)aot_probs.data(), aot_probs.size() * sizeof(float));
    in.read((char *)codes, sizeof codes);
    in.read((char *)aot_trained.data(), aot_trained.size() * sizeof(float));
    in.read((char *)&aot_loss, sizeof aot_loss);
    REQUIRE(in.good());

    netc::JitModel jit(g, f.layout);
    std::vector<float> params(f.layout.total), probs((size_t)g.classes * batch);
    jit.init(seed, params.data());
    jit.predict(params.data(), images.data(), batch, probs.data());
    CHECK(params == aot_params);  // the same code in JIT and AOT: the same bits
    float worst = 0;
    for (size_t i = 0; i < probs.size(); i++)
        worst = std::max(worst, std::fabs(probs[i] - aot_probs[i]));
    CHECK(worst <= 1e-5f);
    CHECK(codes[0] == 1);  // init(NULL)
    CHECK(codes[1] == 1);  // predict(params = NULL)
    CHECK(codes[2] == 1);  // predict(images = NULL)
    CHECK(codes[3] == 2);  // batch 0
    CHECK(codes[4] == 2);  // batch -3
    CHECK(codes[5] == 1);  // train_step(loss = NULL)
    CHECK(codes[6] == 1);  // train_step(images = NULL)
    CHECK(codes[7] == 3);  // a label out of range

    // 20 training steps: the same parameters from the JIT and the AOT object.
    std::vector<float> state(jit.opt_state_count() + 1, 0.0f);
    std::vector<int32_t> labels(batch);
    for (int n = 0; n < batch; n++) labels[n] = n % (int)g.classes;
    jit.set_total_steps(100);
    netc::JitModel::StepResult last;
    for (int64_t step = 0; step < 20; step++) {
        last =
            jit.train_step(params.data(), state.data(), images.data(), labels.data(), batch, step);
    }
    float drift = 0;
    for (size_t i = 0; i < params.size(); i++) {
        drift = std::max(drift, std::fabs(params[i] - aot_trained[i]));
    }
    CHECK(drift <= 1e-6f);
    CHECK(std::fabs(last.data_loss + last.regularization - aot_loss) <= 1e-5f);
    fs::remove_all(dir);
}

}  // namespace

TEST_CASE("AOT object linked by plain cc matches the JIT: MLP") {
    check_model("examples/fashion_mlp.net", 3);
}
TEST_CASE("AOT object linked by plain cc matches the JIT: CNN") {
    check_model("examples/fashion_cnn.net", 5);
}
TEST_CASE("AOT object linked by plain cc matches the JIT: DropConnect, fractional max pooling "
          "and stochastic depth, their draws over 20 steps") {
    check_model("tests/torch/regularizers.net", 4);
}

TEST_CASE("netc rejects an invalid target and an unwritable output without leaving files") {
    std::string model = std::string(NETC_SOURCE_DIR) + "/examples/fashion_linear.net";
    fs::path dir = fs::temp_directory_path() / "netc_aot_errors";
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string out = (dir / "m.o").string();
    CHECK(run(std::string(NETC_BINARY) + " " + model + " -o " + out +
              " --target not-a-target 2>/dev/null") == 1);
    CHECK(run(std::string(NETC_BINARY) + " " + model + " -o " + (dir / "missing/m.o").string() +
              " 2>/dev/null") == 1);
    CHECK(fs::is_empty(dir));
    // All requested kinds appear beside the object.
    CHECK(run(std::string(NETC_BINARY) + " " + model + " -o " + out +
              " --emit=object,header,static-library,assembly,stmt-html") == 0);
    for (const char *suffix : {".o", ".h", ".a", ".s", ".stmt.html"}) {
        CHECK_MESSAGE(fs::exists(dir / (std::string("m") + suffix)), suffix);
    }
    fs::remove_all(dir);
}

TEST_CASE(
    "netc --weights embeds a checkpoint: predict_embedded equals predict on normalized images") {
    std::string path = std::string(NETC_SOURCE_DIR) + "/examples/fashion_mlp.net";
    std::string read_error;
    netc::Frontend f = netc::load_model_file(path, read_error);
    REQUIRE(f.ok());
    const netc::Graph &g = *f.graph;
    fs::path dir = fs::temp_directory_path() / "netc_aot_embed";
    fs::remove_all(dir);
    fs::create_directories(dir);
    netc::JitModel jit(g, f.layout);
    std::vector<float> params(f.layout.total);
    jit.init(99, params.data());
    std::vector<netc::runtime::TensorView> tensors;
    for (const netc::ParamEntry &e : f.layout.entries) {
        tensors.push_back(
            {e.name, netc::runtime::DType::F32, e.shape.dims, params.data() + e.offset});
    }
    const float mean = 0.2860406f, stddev = 0.3530242f;
    std::map<std::string, std::string> metadata = {
        {"normalization_mean", netc::runtime::format_floats({mean})},
        {"normalization_std", netc::runtime::format_floats({stddev})}};
    std::string ckpt = (dir / "trained.safetensors").string();
    REQUIRE(netc::runtime::write_safetensors(ckpt, tensors, metadata).ok());

    std::string object = (dir / "fashion_mlp.o").string();
    REQUIRE(run(std::string(NETC_BINARY) + " " + path + " --weights " + ckpt + " -o " + object) ==
            0);
    REQUIRE(
        run("cc -std=c99 -Wall -Wextra -Werror -O1 -DMODEL=fashion_mlp -DMODEL_UPPER=FASHION_MLP "
            "-include " +
            (dir / "fashion_mlp.h").string() + " " + NETC_SOURCE_DIR +
            "/tests/compiler/embed_check.c " + object + " -lpthread -ldl -lm -o " +
            (dir / "embed_check").string()) == 0);
    int batch = 3;
    std::vector<float> images((size_t)g.input.elements() * batch), normalized(images.size());
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(0, 1);
    for (size_t i = 0; i < images.size(); i++) {
        images[i] = u(rng);
        normalized[i] = (images[i] - mean) * (1.0f / stddev);
    }
    {
        std::ofstream out(dir / "images.bin", std::ios::binary);
        out.write((const char *)images.data(), images.size() * sizeof(float));
    }
    REQUIRE(run((dir / "embed_check").string() + " " + std::to_string(batch) + " " +
                (dir / "images.bin").string() + " " + (dir / "out.bin").string()) == 0);
    std::vector<float> embedded((size_t)g.classes * batch), expected(embedded.size());
    int32_t codes[2];
    std::ifstream in(dir / "out.bin", std::ios::binary);
    in.read((char *)embedded.data(), embedded.size() * sizeof(float));
    in.read((char *)codes, sizeof codes);
    REQUIRE(in.good());
    jit.predict(params.data(), normalized.data(), batch, expected.data());
    for (size_t i = 0; i < expected.size(); i++)
        CHECK(embedded[i] == doctest::Approx(expected[i]).epsilon(1e-5));
    CHECK(codes[0] == 1);
    CHECK(codes[1] == 2);

    // A checkpoint of another model is refused, naming the tensor that differs.
    std::string other = std::string(NETC_SOURCE_DIR) + "/examples/fashion_linear.net";
    CHECK(run(std::string(NETC_BINARY) + " " + other + " --weights " + ckpt + " -o " +
              (dir / "other.o").string() + " 2>" + (dir / "err.txt").string()) == 1);
    std::ifstream err(dir / "err.txt");
    std::string message((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    CHECK(message.find("fc.weight") != std::string::npos);
    CHECK(!fs::exists(dir / "other.o"));
    fs::remove_all(dir);
}
