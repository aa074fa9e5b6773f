// The MLIR export (compiler/ExportMlir.h) in process: the text it writes as golden dumps
// (tests/compiler/golden/NAME.mlir.txt for each NAME.net, long hex constants elided); every
// parameter a tosa.const of its torch name, shape and bits; the normalization; the batch; the
// literals MLIR reads; the located error for an op without an MLIR mapping; and, where
// mlir-opt-14 is installed, its verifiers accepting every golden export. tests/mlir/mlir_check.py
// lowers and runs the exported examples with MLIR's own passes.
#include "compiler/ExportMlir.h"
#include "Golden.h"
#include "compiler/Frontend.h"
#include "compiler/ops/OpTable.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

namespace {

/// Arena values that differ per element, so a tensor read at the wrong offset shows.
netc::EmbeddedWeights weights_for(const netc::ParamLayout &layout) {
    netc::EmbeddedWeights w;
    w.arena.resize(layout.total);
    for (int64_t i = 0; i < layout.total; i++) w.arena[i] = 0.001f * (float)(i % 997) - 0.25f;
    return w;
}

netc::Frontend frontend(const std::string &name, const std::string &text) {
    netc::Frontend f = netc::run_frontend(name, text);
    INFO(f.diags->render());
    REQUIRE(f.ok());
    return f;
}

netc::Frontend golden_model(const std::string &name) {
    std::filesystem::path path = std::string(NETC_SOURCE_DIR) + "/tests/compiler/golden/" + name;
    return frontend(name, netc::testing::read_text_file(path));
}

std::string export_text(const netc::Frontend &f, const netc::EmbeddedWeights &w, int64_t batch) {
    std::optional<std::string> text = netc::export_mlir(*f.graph, f.layout, w, batch, *f.diags);
    INFO(f.diags->render());
    REQUIRE(text);
    return *text;
}

/// The text with every hex constant of more than 8 floats written as its size in bytes.
std::string elide_hex(const std::string &text) {
    std::string out;
    size_t last = 0;
    for (size_t at; (at = text.find("\"0x", last)) != std::string::npos;) {
        size_t end = text.find('"', at + 1);
        REQUIRE(end != std::string::npos);
        size_t digits = end - at - 3;
        out += text.substr(last, at - last);
        out += digits > 64 ? "\"0x<" + std::to_string(digits / 2) + " bytes>\""
                           : text.substr(at, end + 1 - at);
        last = end + 1;
    }
    return out + text.substr(last);
}

/// The floats of the hex constant `%name`, and its type, or false.
bool find_constant(const std::string &text, const std::string &name, std::vector<float> &values,
                   std::string &type) {
    std::string head = "    " + name + " = \"tosa.const\"() {value = dense<\"0x";
    size_t at = text.find(head);
    if (at == std::string::npos) return false;
    size_t start = at + head.size(), end = text.find('"', start);
    std::string hex = text.substr(start, end - start);
    std::vector<unsigned char> bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        bytes.push_back((unsigned char)std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    values.resize(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
    size_t colon = text.find(" : ", end);
    type = text.substr(colon + 3, text.find('}', colon) - colon - 3);
    return true;
}

/// The exit status of a shell command, its output in `output`.
int shell(const std::string &command, std::string &output) {
    FILE *p = popen((command + " 2>&1").c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
    int raw = pclose(p);
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

}  // namespace

TEST_CASE("golden MLIR dumps of the golden models") {
    auto inputs =
        netc::testing::golden_inputs(std::string(NETC_SOURCE_DIR) + "/tests/compiler/golden");
    CHECK(inputs.size() >= 4);
    for (const auto &path : inputs) {
        CAPTURE(path.string());
        netc::Frontend f = frontend(path.filename().string(), netc::testing::read_text_file(path));
        std::string text = export_text(f, weights_for(f.layout), 2);
        std::filesystem::path expected = path;
        netc::testing::check_golden(expected.replace_extension(".mlir.txt"), elide_hex(text));
    }
}

TEST_CASE("mlir-opt-14 verifies every golden export") {
    std::string version;
    if (shell("mlir-opt-14 --version", version) != 0) {
        MESSAGE("skipped: no mlir-opt-14 (scripts/setup.sh installs mlir-14-tools)");
        return;
    }
    auto inputs =
        netc::testing::golden_inputs(std::string(NETC_SOURCE_DIR) + "/tests/compiler/golden");
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("netc_mlir_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    for (const auto &path : inputs) {
        CAPTURE(path.string());
        netc::Frontend f = frontend(path.filename().string(), netc::testing::read_text_file(path));
        netc::EmbeddedWeights w = weights_for(f.layout);
        w.mean.assign(f.graph->input.dims[0], 0.25f);
        w.stddev.assign(f.graph->input.dims[0], 0.5f);
        std::filesystem::path file = dir / path.filename().replace_extension(".mlir");
        std::ofstream(file) << export_text(f, w, 3);
        std::string output;
        int status = shell("mlir-opt-14 '" + file.string() + "' -o /dev/null", output);
        INFO(output);
        CHECK(status == 0);
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("every parameter is a tosa.const of its torch name, shape and bits") {
    netc::Frontend f = golden_model("every_op.net");
    netc::EmbeddedWeights w = weights_for(f.layout);
    std::string text = export_text(f, w, 2);
    REQUIRE(!f.layout.entries.empty());
    for (const netc::ParamEntry &e : f.layout.entries) {
        CAPTURE(e.name);
        std::vector<float> values;
        std::string type;
        REQUIRE(find_constant(text, "%" + e.name, values, type));
        std::string dims;
        for (int64_t d : e.shape.dims) dims += std::to_string(d) + "x";
        CHECK(type == "tensor<" + dims + "f32>");
        REQUIRE(values.size() == (size_t)e.size);
        CHECK(std::memcmp(values.data(), w.arena.data() + e.offset, values.size() * 4) == 0);
    }
}

TEST_CASE("the function's shapes are static at the batch given") {
    netc::Frontend f = golden_model("chain.net");
    for (int64_t batch : {1, 5, 64}) {
        CAPTURE(batch);
        std::string b = std::to_string(batch);
        std::string text = export_text(f, weights_for(f.layout), batch);
        CHECK(text.find("builtin.func @predict(%input: tensor<" + b + "x1x28x28xf32>) -> tensor<" +
                        b + "x10xf32> {\n") != std::string::npos);
        CHECK(text.find("    return %classes.probs : tensor<" + b + "x10xf32>\n}\n") !=
              std::string::npos);
        CHECK(text.find("tensor<" + b + "x64xf32>") != std::string::npos);
    }
}

TEST_CASE("the training normalization is a leading tosa.sub and tosa.mul over the channels") {
    netc::Frontend f = frontend("n.net", "model n {\n  input 3x4x4\n  classes 2\n  flatten\n"
                                         "  dense(units=2)\n}\n");
    netc::EmbeddedWeights w = weights_for(f.layout);
    std::string plain = export_text(f, w, 1);
    CHECK(plain.find("%input.nhwc = \"tosa.transpose\"(%input, %input.nhwc_perm)") !=
          std::string::npos);
    CHECK(plain.find("normalization") == std::string::npos);
    w.mean = {0.1f, 0.2f, 0.3f};
    w.stddev = {1.5f, 2.5f, 4.0f};
    std::string text = export_text(f, w, 1);
    CHECK(text.find("%input.normalization_mean = \"tosa.const\"() {value = "
                    "dense<[[[[0.100000001]], [[0.200000003]], [[0.300000012]]]]> : "
                    "tensor<1x3x1x1xf32>}") != std::string::npos);
    CHECK(text.find("dense<[[[[0.666666687]], [[0.400000006]], [[0.25]]]]>") != std::string::npos);
    size_t sub = text.find("%input.centred = \"tosa.sub\"(%input, %input.normalization_mean)");
    size_t mul = text.find("%input.normalized = \"tosa.mul\"(%input.centred, "
                           "%input.normalization_inv_std) {shift = 0 : i32}");
    size_t transpose = text.find("%input.nhwc = \"tosa.transpose\"(%input.normalized");
    CHECK(sub < mul);
    CHECK(mul < transpose);
    CHECK(transpose != std::string::npos);
}

TEST_CASE("floats are literals MLIR reads back to the same float") {
    // eps=1e-3 and alpha=0.2 of every_op.net: 9 significant digits, always with a '.'.
    netc::Frontend f = golden_model("every_op.net");
    std::string text = export_text(f, weights_for(f.layout), 2);
    CHECK(text.find("dense<0.00100000005> : tensor<1xf32>") != std::string::npos);
    CHECK(text.find("dense<0.200000003> : tensor<1x1x1x1xf32>") != std::string::npos);
    // eps=1e-6 of its groupnorm, and 1.0 written so that MLIR sees a float.
    CHECK(text.find("dense<9.99999997e-07> : tensor<1x1x1x1xf32>") != std::string::npos);
    CHECK(text.find("dense<1.0> : tensor<1x1x1x1xf32>") != std::string::npos);
    CHECK(std::regex_search(text, std::regex("dense<-?[0-9]+e")) == false);
    // relu's clamp to the largest float.
    netc::Frontend chain = golden_model("chain.net");
    CHECK(export_text(chain, weights_for(chain.layout), 1).find("max_fp = 3.40282347e+38 : f32") !=
          std::string::npos);
}

TEST_CASE("every operation is located at its layer in the .net file") {
    netc::Frontend f = golden_model("chain.net");
    std::string text = export_text(f, weights_for(f.layout), 1);
    std::istringstream lines(text);
    int ops = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.find(" = \"tosa.") == std::string::npos) continue;
        ops++;
        CAPTURE(line);
        CHECK(std::regex_search(line, std::regex(" loc\\(\"[a-z_0-9]+\"\\(\"chain.net\":[0-9]+:"
                                                 "[0-9]+\\)\\)$")));
    }
    CHECK(ops > 10);
    CHECK(text.find("%dense_2 = \"tosa.fully_connected\"(%relu_1, %dense_2.weight, "
                    "%dense_2.bias) : (tensor<1x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> "
                    "tensor<1x32xf32> loc(\"dense_2\"(\"chain.net\":") != std::string::npos);
}

TEST_CASE("an op without an MLIR mapping is an error at the layer, naming it and the op") {
    netc::Frontend f = frontend("m.net", "model m {\n  input 1x8x8\n  classes 2\n  flatten\n"
                                         "  hidden: dense(units=4)\n  relu\n"
                                         "  dense(units=2)\n}\n");
    // The same op without its rule, at both of its layers: an error at each.
    netc::OpDef unmapped = *f.graph->nodes[2].op;
    unmapped.mlir = nullptr;
    for (netc::Node &node : f.graph->nodes)
        if (std::string(node.op->name) == "dense") node.op = &unmapped;
    CHECK(!netc::export_mlir(*f.graph, f.layout, weights_for(f.layout), 1, *f.diags));
    CHECK(f.diags->error_count() == 2);
    std::string said = f.diags->render();
    CHECK(said.find("m.net:5:3: error: layer 'hidden' (dense): op 'dense' has no MLIR (TOSA) "
                    "mapping, so the model cannot be exported to MLIR") != std::string::npos);
    CHECK(said.find("m.net:7:3: error: layer 'dense_") != std::string::npos);
}

TEST_CASE("every op of the table has an MLIR rule") {
    for (const netc::OpDef *op : netc::all_ops()) {
        CAPTURE(op->name);
        if (op->user_visible) CHECK(bool(op->mlir));
    }
}
