#include "compiler/ExportMlir.h"

#include "compiler/KnnExport.h"
#include "compiler/Mlir.h"
#include "compiler/ops/Op.h"
#include "dsl/Error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>

namespace netc {

/// The function under construction and what the op rules draw on.
struct MlirFunction {
    std::ostringstream body;  // the operations so far, one a line
    const ParamLayout *layout = nullptr;
    const EmbeddedWeights *weights = nullptr;
    int64_t batch = 1;
    std::string file;             // the .net file, for locations
    std::set<std::string> names;  // every SSA name so far
};

namespace {

void claim(MlirFunction &f, const std::string &name) {
    if (!f.names.insert(name).second) internal_error("MLIR value '" + name + "' defined twice");
}

/// A float as an MLIR float literal that reads back to the same float: 9 significant digits,
/// always with a '.' (MLIR reads `1e-05` as no float).
std::string float_literal(float v) {
    internal_assert(std::isfinite(v));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", (double)v);
    std::string s = buf;
    if (s.find('.') != std::string::npos) return s;
    size_t e = s.find('e');
    return e == std::string::npos ? s + ".0" : s.insert(e, ".0");
}

/// A string literal of MLIR: quotes and backslashes escaped.
std::string string_literal(const std::string &s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

/// `values` (row-major, of shape `dims`) as a dense literal: a splat `v` when all are equal,
/// nested lists otherwise.
template <typename T, typename Format>
std::string dense_text(const std::vector<T> &values, const std::vector<int64_t> &dims,
                       Format format) {
    bool splat = !values.empty();
    for (const T &v : values) splat &= std::memcmp(&v, &values[0], sizeof(T)) == 0;
    if (splat) return "dense<" + format(values[0]) + ">";
    std::string out;
    size_t next = 0;
    auto list = [&](auto &self, size_t axis) -> void {
        if (axis == dims.size()) {
            out += format(values[next++]);
            return;
        }
        out += "[";
        for (int64_t i = 0; i < dims[axis]; i++) {
            if (i) out += ", ";
            self(self, axis + 1);
        }
        out += "]";
    };
    list(list, 0);
    return "dense<" + out + ">";
}

/// Floats as a hex dense literal, their bytes as the host (little-endian x86) holds them, which
/// is how MLIR reads the hex form: exact and half the size of decimal text.
std::string hex_dense(const float *values, size_t count) {
    static const char digits[] = "0123456789ABCDEF";
    std::string out = "dense<\"0x";
    out.reserve(out.size() + count * 8 + 2);
    const unsigned char *bytes = reinterpret_cast<const unsigned char *>(values);
    for (size_t i = 0; i < count * sizeof(float); i++) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out + "\">";
}

int64_t element_count(const std::vector<int64_t> &dims) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
}

/// Writes `%name = "op"(operands) {attrs} : (types) -> result loc(location)`.
void write_op(MlirFunction &f, const std::string &name, const std::string &op,
              const std::vector<MlirValue> &operands, const MlirType &result,
              const std::vector<MlirAttr> &attrs, const std::string &location) {
    claim(f, name);
    std::ostringstream &out = f.body;
    out << "    " << name << " = \"" << op << "\"(";
    for (size_t i = 0; i < operands.size(); i++) out << (i ? ", " : "") << operands[i].name;
    out << ")";
    if (!attrs.empty()) {
        out << " {";
        for (size_t i = 0; i < attrs.size(); i++) {
            out << (i ? ", " : "") << attrs[i].name << " = " << attrs[i].value;
        }
        out << "}";
    }
    out << " : (";
    for (size_t i = 0; i < operands.size(); i++) {
        out << (i ? ", " : "") << operands[i].type.str();
    }
    out << ") -> " << result.str() << " loc(" << location << ")\n";
}

/// A tosa.const of `dense` (a literal of `type`) named `name`.
MlirValue write_const(MlirFunction &f, const std::string &name, const std::string &dense,
                      const MlirType &type, const std::string &location) {
    write_op(f, name, "tosa.const", {}, type, {{"value", dense + " : " + type.str()}}, location);
    return {name, type};
}

/// The location of a layer: its name and its place in the .net file.
std::string layer_location(const MlirFunction &f, const Node &node) {
    return string_literal(node.name) + "(" + string_literal(f.file) + ":" +
           std::to_string(node.loc.line) + ":" + std::to_string(node.loc.col) + ")";
}

}  // namespace

std::string MlirType::str() const {
    std::string out = "tensor<";
    for (int64_t d : dims) out += std::to_string(d) + "x";
    return out + element + ">";
}

MlirAttr MlirAttr::i64(std::string name, int64_t v) {
    return {std::move(name), std::to_string(v) + " : i64"};
}

MlirAttr MlirAttr::i32(std::string name, int32_t v) {
    return {std::move(name), std::to_string(v) + " : i32"};
}

MlirAttr MlirAttr::f32(std::string name, float v) {
    return {std::move(name), float_literal(v) + " : f32"};
}

MlirAttr MlirAttr::ints(std::string name, const std::vector<int64_t> &v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); i++) out += (i ? ", " : "") + std::to_string(v[i]);
    return {std::move(name), out + "]"};
}

MlirType mlir_value_type(const Shape &s, int64_t batch) {
    if (s.rank() == 3) return {{batch, s.dims[1], s.dims[2], s.dims[0]}};
    internal_assert(s.rank() == 1);
    return {{batch, s.dims[0]}};
}

MlirCtx::MlirCtx(MlirFunction &function, const Graph &graph, const Node &node,
                 std::vector<MlirValue> inputs)
    : function_(function), graph_(graph), node_(node), inputs_(std::move(inputs)) {}

const Shape &MlirCtx::x_shape(int i) const { return graph_.nodes[node_.inputs[i]].shape; }

MlirType MlirCtx::value_type() const { return mlir_value_type(node_.shape, function_.batch); }

std::string MlirCtx::intermediate(const std::string &what) const {
    return "%" + node_.name + "." + what;
}

MlirValue MlirCtx::param(const std::string &suffix) {
    std::string torch_name = node_.name + "." + suffix;
    const ParamEntry *e = function_.layout->find(torch_name);
    if (!e) internal_error("layer '" + node_.name + "' has no parameter '" + suffix + "'");
    MlirType type{e->shape.dims};
    if (function_.names.count("%" + torch_name)) return {"%" + torch_name, type};
    return write_const(function_, "%" + torch_name,
                       hex_dense(function_.weights->arena.data() + e->offset, (size_t)e->size),
                       type, layer_location(function_, node_));
}

MlirValue MlirCtx::constant(const std::string &what, const std::vector<float> &values,
                            std::vector<int64_t> dims) {
    internal_assert(element_count(dims) == (int64_t)values.size());
    MlirType type{std::move(dims)};
    return write_const(function_, intermediate(what), dense_text(values, type.dims, float_literal),
                       type, layer_location(function_, node_));
}

MlirValue MlirCtx::constant_ints(const std::string &what, const std::vector<int64_t> &values,
                                 std::vector<int64_t> dims) {
    internal_assert(element_count(dims) == (int64_t)values.size());
    MlirType type{std::move(dims), "i32"};
    auto format = [](int64_t v) {
        internal_assert(v >= std::numeric_limits<int32_t>::min() &&
                        v <= std::numeric_limits<int32_t>::max());
        return std::to_string(v);
    };
    return write_const(function_, intermediate(what), dense_text(values, type.dims, format), type,
                       layer_location(function_, node_));
}

MlirValue MlirCtx::emit(const std::string &op, const std::vector<MlirValue> &operands,
                        MlirType result, const std::vector<MlirAttr> &attrs,
                        const std::string &what) {
    std::string name = what.empty() ? "%" + node_.name : intermediate(what);
    if (what.empty()) {
        if (!value_.name.empty()) internal_error("layer '" + node_.name + "' has two MLIR values");
        if (result.dims != value_type().dims) {
            internal_error("the MLIR value of layer '" + node_.name + "' is " + result.str() +
                           ", not " + value_type().str());
        }
    }
    write_op(function_, name, op, operands, result, attrs, layer_location(function_, node_));
    MlirValue v{name, std::move(result)};
    if (what.empty()) value_ = v;
    return v;
}

void MlirCtx::set_value(const MlirValue &v) {
    if (!value_.name.empty()) internal_error("layer '" + node_.name + "' has two MLIR values");
    if (v.type.dims != value_type().dims) {
        internal_error("the MLIR value of layer '" + node_.name + "' is " + v.type.str() +
                       ", not " + value_type().str());
    }
    value_ = v;
}

MlirValue mlir_elementwise(MlirCtx &ctx, const std::string &op,
                           const std::vector<MlirValue> &operands, const std::string &what,
                           const std::string &element) {
    MlirType result{operands[0].type.dims, element};
    for (const MlirValue &v : operands) {
        internal_assert(v.type.dims.size() == result.dims.size());
        for (size_t i = 0; i < result.dims.size(); i++) {
            internal_assert(v.type.dims[i] == result.dims[i] || v.type.dims[i] == 1 ||
                            result.dims[i] == 1);
            result.dims[i] = std::max(result.dims[i], v.type.dims[i]);
        }
    }
    std::vector<MlirAttr> attrs;
    if (op == "tosa.mul") attrs.push_back(MlirAttr::i32("shift", 0));
    return ctx.emit(op, operands, result, attrs, what);
}

MlirValue mlir_mul(MlirCtx &ctx, const MlirValue &a, const MlirValue &b, const std::string &what) {
    return mlir_elementwise(ctx, "tosa.mul", {a, b}, what);
}

MlirValue mlir_scalar(MlirCtx &ctx, const std::string &what, float v, int rank) {
    return ctx.constant(what, {v}, std::vector<int64_t>(rank, 1));
}

MlirValue mlir_reshape(MlirCtx &ctx, const MlirValue &v, std::vector<int64_t> dims,
                       const std::string &what) {
    internal_assert(element_count(dims) == element_count(v.type.dims));
    MlirType result{dims, v.type.element};
    return ctx.emit("tosa.reshape", {v}, result, {MlirAttr::ints("new_shape", dims)}, what);
}

MlirValue mlir_transpose(MlirCtx &ctx, const MlirValue &v, const std::vector<int64_t> &perm,
                         const std::string &what) {
    internal_assert(perm.size() == v.type.dims.size());
    MlirType result{{}, v.type.element};
    for (int64_t axis : perm) result.dims.push_back(v.type.dims[axis]);
    std::string name = what.empty() ? "value" : what;
    MlirValue p = ctx.constant_ints(name + "_perm", perm, {(int64_t)perm.size()});
    return ctx.emit("tosa.transpose", {v, p}, result, {}, what);
}

MlirValue mlir_per_channel(MlirCtx &ctx, const MlirValue &v, const MlirValue &like,
                           const std::string &what) {
    std::vector<int64_t> dims(like.type.dims.size(), 1);
    dims.back() = element_count(v.type.dims);
    return mlir_reshape(ctx, v, dims, what);
}

MlirValue mlir_positive_or(MlirCtx &ctx, const MlirValue &negative, const std::string &what) {
    MlirValue zero = mlir_scalar(ctx, "zero", 0.0f, (int)ctx.x().type.dims.size());
    MlirValue positive = mlir_elementwise(ctx, "tosa.greater", {ctx.x(), zero}, "positive", "i1");
    return ctx.emit("tosa.select", {positive, ctx.x(), negative}, ctx.x().type, {}, what);
}

void mlir_identity(MlirCtx &ctx) { ctx.set_value(ctx.x()); }

void mlir_unary(MlirCtx &ctx, const std::string &op, const std::vector<MlirAttr> &attrs) {
    ctx.emit(op, {ctx.x()}, ctx.value_type(), attrs);
}

MlirValue mlir_normalize_groups(MlirCtx &ctx, int64_t groups) {
    // [N, H, W, C] (or [N, F]) as [N, pixels, groups, channels of a group]: the statistics of a
    // group are sums over axes 1 and 3 (TOSA reduces one axis at a time, keeping it as 1).
    const MlirValue &x = ctx.x();
    const std::vector<int64_t> &d = x.type.dims;
    int64_t n = d[0], c = d.back(), pixels = element_count(d) / n / c;
    MlirValue rows = mlir_reshape(ctx, x, {n, pixels, groups, c / groups}, "grouped");
    auto mean = [&](const MlirValue &v, const std::string &what) {
        MlirType partial{{n, pixels, groups, 1}};
        MlirValue s = ctx.emit("tosa.reduce_sum", {v}, partial, {MlirAttr::i64("axis", 3)},
                               what + "_partial");
        MlirValue total = ctx.emit("tosa.reduce_sum", {s}, {{n, 1, groups, 1}},
                                   {MlirAttr::i64("axis", 1)}, what + "_sum");
        float count = (float)(pixels * (c / groups));
        return mlir_mul(ctx, total, mlir_scalar(ctx, what + "_inv_count", 1.0f / count, 4), what);
    };
    MlirValue centred = mlir_elementwise(ctx, "tosa.sub", {rows, mean(rows, "mean")}, "centred");
    MlirValue square = mlir_mul(ctx, centred, centred, "square");
    float eps = (float)ctx.node().attrs.get_float("eps");
    MlirValue var_eps = mlir_elementwise(
        ctx, "tosa.add", {mean(square, "var"), mlir_scalar(ctx, "eps", eps, 4)}, "var_eps");
    MlirValue inv_std = ctx.emit("tosa.rsqrt", {var_eps}, var_eps.type, {}, "inv_std");
    MlirValue normalized = mlir_mul(ctx, centred, inv_std, "normalized");
    bool affine = ctx.node().attrs.get_bool("affine");
    return mlir_reshape(ctx, normalized, d, affine ? "unscaled" : "");
}

namespace {

/// probs [N, classes] = softmax over the classes of the logits: exp(z - max z) / sum.
MlirValue softmax_probs(MlirFunction &f, const Graph &graph, const MlirValue &logits) {
    const int64_t batch = f.batch;
    internal_assert(logits.type.dims == std::vector<int64_t>({batch, graph.classes}));
    Node softmax_node = graph.nodes[graph.forward_count - 1];
    softmax_node.name = "classes";
    softmax_node.loc = graph.loc;
    MlirCtx softmax(f, graph, softmax_node, {logits});
    MlirType column{{batch, 1}};
    MlirValue top =
        softmax.emit("tosa.reduce_max", {logits}, column, {MlirAttr::i64("axis", 1)}, "max");
    MlirValue shifted = mlir_elementwise(softmax, "tosa.sub", {logits, top}, "shifted");
    MlirValue e = softmax.emit("tosa.exp", {shifted}, shifted.type, {}, "exp");
    MlirValue total =
        softmax.emit("tosa.reduce_sum", {e}, column, {MlirAttr::i64("axis", 1)}, "sum");
    MlirValue inv = softmax.emit("tosa.reciprocal", {total}, column, {}, "inv_sum");
    return mlir_mul(softmax, e, inv, "probs");
}

/// probs [N, classes] = the nearest stored samples' vote shares (compiler/KnnExport.h), the
/// stored set constants of the checkpoint's names: its features, its labels as floats and the
/// indices 0..S-1, the rows [1, S] the one-hots compare with.
MlirValue knn_probs(MlirFunction &f, const Graph &graph, const EmbeddedWeights &weights,
                    const MlirValue &features) {
    const int64_t count = (int64_t)weights.reference_labels.size();
    const int64_t per_sample = graph.output().shape.elements();
    internal_assert((int64_t)weights.reference.size() == count * per_sample);
    Node head = knn_classifier_node(graph, "classes");
    const std::string location = layer_location(f, head);
    MlirValue stored = write_const(f, "%reference.features",
                                   hex_dense(weights.reference.data(), weights.reference.size()),
                                   {{count, per_sample}}, location);
    std::vector<float> label_values(weights.reference_labels.begin(),
                                    weights.reference_labels.end());
    MlirValue labels =
        write_const(f, "%reference.labels", hex_dense(label_values.data(), label_values.size()),
                    {{1, count}}, location);
    std::vector<int64_t> indices((size_t)count);
    for (int64_t r = 0; r < count; r++) indices[(size_t)r] = r;
    MlirType index_type{{1, count}, "i32"};
    MlirValue index = write_const(
        f, "%reference.index",
        dense_text(indices, index_type.dims, [](int64_t v) { return std::to_string(v); }),
        index_type, location);
    MlirCtx ctx(f, graph, head, {features, stored, labels, index});
    head.op->mlir(ctx);
    return ctx.value();
}

}  // namespace

std::optional<std::string> export_mlir(const Graph &graph, const ParamLayout &layout,
                                       const EmbeddedWeights &weights, int64_t batch,
                                       Diagnostics &diags) {
    internal_assert((int64_t)weights.arena.size() == layout.total);
    internal_assert(batch >= 1);
    bool ok = true;
    for (int id = 1; id < graph.forward_count; id++) {
        const Node &node = graph.nodes[id];
        if (node.op->mlir) continue;
        diags.error(node.loc, "layer '" + node.name + "' (" + node.op->name + "): op '" +
                                  node.op->name + "' has no MLIR (TOSA) mapping, so the model " +
                                  "cannot be exported to MLIR");
        ok = false;
    }
    if (!ok) return std::nullopt;

    MlirFunction f;
    f.layout = &layout;
    f.weights = &weights;
    f.batch = batch;
    f.file = diags.file().path();
    // The exporter's own values are named under the reserved words `input` and `classes`, which
    // no layer can be named.
    const Shape &in = graph.input;
    int64_t c = in.dims[0];
    MlirValue input{"%input", {{batch, c, in.dims[1], in.dims[2]}}};
    claim(f, input.name);
    // The input, normalized as in training when the checkpoint says how: (x - mean[c]) * (1 /
    // std[c]), the constants [1, C, 1, 1] broadcast over the batch and pixels (TOSA has no float
    // division); then NCHW -> NHWC.
    Node input_node = graph.nodes[0];
    input_node.name = "input";
    MlirCtx input_ctx(f, graph, input_node, {input});
    MlirValue x = input;
    if (!weights.mean.empty()) {
        internal_assert((int64_t)weights.mean.size() == c && (int64_t)weights.stddev.size() == c);
        std::vector<float> inv_std;
        for (float s : weights.stddev) inv_std.push_back(1.0f / s);
        MlirValue mean = input_ctx.constant("normalization_mean", weights.mean, {1, c, 1, 1});
        MlirValue scale = input_ctx.constant("normalization_inv_std", inv_std, {1, c, 1, 1});
        MlirValue centred = mlir_elementwise(input_ctx, "tosa.sub", {x, mean}, "centred");
        x = mlir_mul(input_ctx, centred, scale, "normalized");
    }
    std::vector<MlirValue> values(graph.forward_count);
    values[0] = mlir_transpose(input_ctx, x, {0, 2, 3, 1}, "nhwc");

    for (int id = 1; id < graph.forward_count; id++) {
        const Node &node = graph.nodes[id];
        std::vector<MlirValue> inputs;
        for (int i : node.inputs) inputs.push_back(values[i]);
        MlirCtx ctx(f, graph, node, inputs);
        node.op->mlir(ctx);
        if (ctx.value().name.empty()) {
            internal_error("the MLIR rule of op '" + std::string(node.op->name) + "' gave layer '" +
                           node.name + "' no value");
        }
        values[id] = ctx.value();
    }

    MlirValue probs = graph.is_knn() ? knn_probs(f, graph, weights, values.back())
                                     : softmax_probs(f, graph, values.back());
    std::ostringstream out;
    out << "// netc: model " << graph.model << " from " << f.file
        << ", its inference graph with trained weights in MLIR 14's TOSA dialect, at a batch of "
        << batch << ".\n"
        << "// @predict: images " << input.type.str()
        << " (NCHW, pixels in [0, 1]) -> the probabilities of the " << graph.classes
        << " classes.\n"
        << "builtin.func @predict(" << input.name << ": " << input.type.str() << ") -> "
        << probs.type.str() << " {\n"
        << f.body.str() << "    return " << probs.name << " : " << probs.type.str() << "\n"
        << "}\n";
    return out.str();
}

}  // namespace netc
