// The ONNX export (compiler/ExportOnnx.h) in process: the model it writes, parsed back with the
// same protobuf schema, as golden dumps (tests/compiler/golden/NAME.onnx.txt for each NAME.net);
// every parameter an initializer of its torch name, shape and values; the normalization; and the
// located error for an op without an ONNX mapping. tests/onnx/onnx_check.py runs the exported
// examples in the consumers (onnx's checker, OpenCV).
#include "compiler/ExportOnnx.h"
#include "Golden.h"
#include "compiler/Frontend.h"
#include "compiler/ops/OpTable.h"

#include "onnx/onnx.pb.h"

#include <doctest/doctest.h>

#include <cstring>
#include <sstream>

namespace {

/// Arena values that differ per element, so a tensor read at the wrong offset shows.
netc::EmbeddedWeights weights_for(const netc::ParamLayout &layout) {
    netc::EmbeddedWeights w;
    w.arena.resize(layout.total);
    for (int64_t i = 0; i < layout.total; i++) w.arena[i] = 0.001f * (float)(i % 997) - 0.25f;
    return w;
}

onnx::ModelProto parse(const std::string &bytes) {
    onnx::ModelProto model;
    REQUIRE(model.ParseFromString(bytes));
    return model;
}

std::string dims_text(const onnx::ValueInfoProto &v) {
    std::string out = "[";
    const auto &shape = v.type().tensor_type().shape();
    for (int i = 0; i < shape.dim_size(); i++) {
        const auto &d = shape.dim(i);
        out +=
            (i ? ", " : "") + (d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
    }
    return out + "]";
}

template <typename Repeated> std::string list_text(const Repeated &values) {
    std::ostringstream out;
    out << "[";
    for (int i = 0; i < values.size(); i++) out << (i ? ", " : "") << values.Get(i);
    return out.str() + "]";
}

/// One line per input, initializer (float constants of up to 4 values and int constants shown)
/// and node, in file order, then the outputs.
std::string dump(const onnx::ModelProto &model) {
    std::ostringstream out;
    const onnx::GraphProto &g = model.graph();
    out << "ir_version " << model.ir_version() << " opset";
    for (const auto &o : model.opset_import()) out << " '" << o.domain() << "':" << o.version();
    out << " graph " << g.name() << "\n";
    for (const auto &in : g.input()) out << "input " << in.name() << " " << dims_text(in) << "\n";
    for (const auto &t : g.initializer()) {
        out << "initializer " << t.name() << " " << list_text(t.dims());
        if (t.data_type() == onnx::TensorProto::INT64) out << " = " << list_text(t.int64_data());
        size_t count = t.raw_data().size() / sizeof(float);
        if (t.data_type() == onnx::TensorProto::FLOAT && count <= 4 &&
            t.name().find('/') != std::string::npos) {
            std::vector<float> v(count);
            std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
            out << " =";
            for (float x : v) out << " " << x;
        }
        out << "\n";
    }
    for (const auto &n : g.node()) {
        out << n.output(0) << " = " << n.op_type() << "(";
        for (int i = 0; i < n.input_size(); i++) out << (i ? ", " : "") << n.input(i);
        out << ")";
        for (const auto &a : n.attribute()) {
            out << " " << a.name() << "=";
            if (a.type() == onnx::AttributeProto::INT) out << a.i();
            if (a.type() == onnx::AttributeProto::FLOAT) out << a.f();
            if (a.type() == onnx::AttributeProto::INTS) out << list_text(a.ints());
        }
        out << "\n";
    }
    for (const auto &o : g.output()) out << "output " << o.name() << " " << dims_text(o) << "\n";
    return out.str();
}

netc::Frontend frontend(const std::string &name, const std::string &text) {
    netc::Frontend f = netc::run_frontend(name, text);
    INFO(f.diags->render());
    REQUIRE(f.ok());
    return f;
}

}  // namespace

TEST_CASE("golden ONNX dumps of the golden models") {
    auto inputs =
        netc::testing::golden_inputs(std::string(NETC_SOURCE_DIR) + "/tests/compiler/golden");
    CHECK(inputs.size() >= 4);
    for (const auto &path : inputs) {
        CAPTURE(path.string());
        netc::Frontend f = frontend(path.filename().string(), netc::testing::read_text_file(path));
        std::optional<std::string> bytes =
            netc::export_onnx(*f.graph, f.layout, weights_for(f.layout), *f.diags);
        INFO(f.diags->render());
        REQUIRE(bytes);
        std::filesystem::path expected = path;
        netc::testing::check_golden(expected.replace_extension(".onnx.txt"), dump(parse(*bytes)));
    }
}

TEST_CASE("every parameter is an initializer of its torch name, shape and values") {
    netc::Frontend f = frontend(
        "every_op.net", netc::testing::read_text_file(std::string(NETC_SOURCE_DIR) +
                                                      "/tests/compiler/golden/every_op.net"));
    netc::EmbeddedWeights w = weights_for(f.layout);
    onnx::ModelProto model = parse(*netc::export_onnx(*f.graph, f.layout, w, *f.diags));
    CHECK(model.opset_import(0).version() >= 13);
    REQUIRE(!f.layout.entries.empty());
    for (const netc::ParamEntry &e : f.layout.entries) {
        CAPTURE(e.name);
        const onnx::TensorProto *found = nullptr;
        for (const auto &t : model.graph().initializer()) {
            if (t.name() == e.name) found = &t;
        }
        REQUIRE(found);
        CHECK(std::vector<int64_t>(found->dims().begin(), found->dims().end()) == e.shape.dims);
        REQUIRE(found->raw_data().size() == (size_t)e.size * sizeof(float));
        CHECK(std::memcmp(found->raw_data().data(), w.arena.data() + e.offset,
                          found->raw_data().size()) == 0);
    }
}

TEST_CASE("the training normalization is a leading Sub and Div over the channels") {
    netc::Frontend f = frontend("n.net", "model n {\n  input 3x4x4\n  classes 2\n  flatten\n"
                                         "  dense(units=2)\n}\n");
    netc::EmbeddedWeights w = weights_for(f.layout);
    std::optional<std::string> plain = netc::export_onnx(*f.graph, f.layout, w, *f.diags);
    CHECK(parse(*plain).graph().node(0).op_type() == "Flatten");
    CHECK(parse(*plain).graph().node(0).input(0) == "input");
    w.mean = {0.1f, 0.2f, 0.3f};
    w.stddev = {1.5f, 2.5f, 3.5f};
    onnx::ModelProto model = parse(*netc::export_onnx(*f.graph, f.layout, w, *f.diags));
    const onnx::GraphProto &g = model.graph();
    CHECK(g.node(0).op_type() == "Sub");
    CHECK(g.node(0).input(0) == "input");
    CHECK(g.node(1).op_type() == "Div");
    CHECK(g.node(2).input(0) == g.node(1).output(0));
    for (const auto &t : g.initializer()) {
        if (t.name() != "normalization_std") continue;
        CHECK(std::vector<int64_t>(t.dims().begin(), t.dims().end()) ==
              std::vector<int64_t>{3, 1, 1});
        float v[3];
        std::memcpy(v, t.raw_data().data(), sizeof v);
        CHECK(v[2] == 3.5f);
    }
}

TEST_CASE("an op without an ONNX mapping is an error at the layer, naming it and the op") {
    netc::Frontend f = frontend("m.net", "model m {\n  input 1x8x8\n  classes 2\n  flatten\n"
                                         "  hidden: dense(units=4)\n  relu\n"
                                         "  dense(units=2)\n}\n");
    // The same op without its rule.
    netc::OpDef unmapped = *f.graph->nodes[2].op;
    unmapped.onnx = nullptr;
    f.graph->nodes[2].op = &unmapped;
    std::optional<std::string> bytes =
        netc::export_onnx(*f.graph, f.layout, weights_for(f.layout), *f.diags);
    CHECK(!bytes);
    CHECK(f.diags->error_count() == 1);
    CHECK(f.diags->render().find("m.net:5:3: error: layer 'hidden' (dense): op 'dense' has no "
                                 "ONNX mapping") != std::string::npos);
}

TEST_CASE("every op of the table has an ONNX rule") {
    for (const netc::OpDef *op : netc::all_ops()) {
        CAPTURE(op->name);
        if (op->user_visible) CHECK(bool(op->onnx));
    }
}
