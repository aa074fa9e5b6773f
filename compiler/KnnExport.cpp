#include "compiler/KnnExport.h"

#include "compiler/Mlir.h"
#include "compiler/Onnx.h"

#include <limits>

namespace netc {

namespace {

// ONNX: the queries [N, F] (the features Flattened), and the distance that ranks them:
//   l1      ReduceSum over F of Abs(Sub) of the queries Unsqueezed to [N, 1, F] and the stored
//           set [S, F] (N x S x F values at once)
//   l2      Relu(|x|^2 + |y|^2 - 2 x.y) from ReduceSumSquare and Gemm(transB), Sqrt after the
//           ranking (netc ranks the squares too)
//   cosine  1 - x.y / max(|x| |y|, 1e-30) where |x| |y| > 0, 1 elsewhere
// TopK(largest=0, sorted=1) takes the k nearest, of equal distances the lower index first as in
// netc; their labels (Gather) compared with every class (Equal, Cast) are the votes, weighted by
// 1 / distance with vote=distance (where the nearest is at 0, those at 0 alone, one each), summed
// over the neighbours and divided by their total.
void onnx_knn(OnnxCtx &ctx) {
    const Attrs &attrs = ctx.node().attrs;
    const int64_t k = attrs.get_int("k");
    const std::string distance = attrs.get_enum("distance");
    const bool weighted = attrs.get_enum("vote") == "distance";
    auto scalar = [&](const std::string &what, float v) { return ctx.constant(what, {v}, {}); };
    auto ints = [&](const std::string &what, std::vector<int64_t> v) {
        const int64_t size = (int64_t)v.size();
        return ctx.constant_ints(what, std::move(v), {size});
    };
    auto binary = [&](const char *op, const std::string &a, const std::string &b,
                      const std::string &what) {
        return ctx.emit(op, {a, b}, {}, what);
    };
    auto unary = [&](const char *op, const std::string &a, const std::string &what) {
        return ctx.emit(op, {a}, {}, what);
    };
    auto sum_over = [&](const std::string &v, int64_t axis, bool keep, const std::string &what) {
        std::string axes = ints(what + "_axis", {axis});
        return ctx.emit("ReduceSum", {v, axes}, {OnnxAttr::i("keepdims", keep)}, what);
    };
    const std::string &stored = ctx.x(1), &labels = ctx.x(2);
    std::string queries = ctx.x();
    if (ctx.x_shape().rank() != 1)
        queries = ctx.emit("Flatten", {queries}, {OnnxAttr::i("axis", 1)}, "queries");

    std::string ranked;  // [N, S]
    if (distance == "l1") {
        std::string rows = ctx.emit("Unsqueeze", {queries, ints("query_axis", {1})}, {}, "rows");
        std::string difference = binary("Sub", rows, stored, "difference");
        ranked = sum_over(unary("Abs", difference, "absolute"), 2, false, "distances");
    } else {
        std::string dot = ctx.emit("Gemm", {queries, stored}, {OnnxAttr::i("transB", 1)}, "dot");
        std::string query_squares =
            ctx.emit("ReduceSumSquare", {queries},
                     {OnnxAttr::ints("axes", {1}), OnnxAttr::i("keepdims", 1)}, "query_squares");
        std::string stored_squares =
            ctx.emit("ReduceSumSquare", {stored},
                     {OnnxAttr::ints("axes", {1}), OnnxAttr::i("keepdims", 0)}, "stored_squares");
        if (distance == "l2") {
            std::string both = binary("Add", query_squares, stored_squares, "both_squares");
            std::string twice = binary("Mul", dot, scalar("two", 2.0f), "twice_dot");
            ranked = unary("Relu", binary("Sub", both, twice, "expanded"), "squared");
        } else {
            std::string product = binary("Mul", query_squares, stored_squares, "square_norms");
            std::string norms = unary("Sqrt", product, "norms");
            std::string safe = binary("Max", norms, scalar("tiny", 1e-30f), "safe_norms");
            std::string cosine = binary("Div", dot, safe, "cosine");
            std::string one = scalar("one", 1.0f);
            std::string apart = binary("Sub", one, cosine, "apart");
            std::string positive = binary("Greater", norms, scalar("zero", 0.0f), "positive");
            ranked = ctx.emit("Where", {positive, apart, one}, {}, "distances");
        }
    }
    std::vector<std::string> nearest = ctx.emit_outputs(
        "TopK", {ranked, ints("k", {k})},
        {OnnxAttr::i("axis", 1), OnnxAttr::i("largest", 0), OnnxAttr::i("sorted", 1)},
        {"nearest_ranked", "nearest"});
    std::string near = nearest[0];  // [N, k]
    if (distance == "l2") near = unary("Sqrt", near, "nearest_distances");
    std::string neighbour_labels =
        ctx.emit("Gather", {labels, nearest[1]}, {OnnxAttr::i("axis", 0)}, "neighbour_labels");
    std::string label_column = ctx.emit("Unsqueeze", {neighbour_labels, ints("vote_axis", {2})}, {},
                                        "neighbour_label_column");
    std::vector<int64_t> classes;
    for (int64_t c = 0; c < ctx.node().shape.dims[0]; c++) classes.push_back(c);
    std::string hit = binary("Equal", label_column, ints("classes", classes), "hit");
    std::string votes = ctx.emit("Cast", {hit}, {OnnxAttr::i("to", 1)}, "votes");  // [N, k, C]
    if (!weighted) {
        std::string shares = sum_over(votes, 1, false, "shares");
        ctx.emit("Div", {shares, scalar("k_votes", (float)k)});
        return;
    }
    std::string zero = scalar("zero_distance", 0.0f);
    std::string first = ctx.emit(
        "Slice", {near, ints("first_start", {0}), ints("first_end", {1}), ints("first_axis", {1})},
        {}, "first");
    std::string exact = binary("Equal", first, zero, "exact");
    std::string at_zero = binary("Equal", near, zero, "at_zero");
    std::string at_zero_votes = ctx.emit("Cast", {at_zero}, {OnnxAttr::i("to", 1)}, "zero_votes");
    std::string inverse = unary("Reciprocal", near, "inverse");
    std::string weights = ctx.emit("Where", {exact, at_zero_votes, inverse}, {}, "weights");
    std::string weight_column =
        ctx.emit("Unsqueeze", {weights, ints("weight_axis", {2})}, {}, "weight_column");
    std::string weighted_votes = binary("Mul", votes, weight_column, "weighted_votes");
    std::string shares = sum_over(weighted_votes, 1, false, "shares");
    std::string total = sum_over(weights, 1, true, "total");
    ctx.emit("Div", {shares, total});
}

// TOSA: the same in what TOSA 14 has. The queries [N, F] (an image value transposed back to
// C-major first); l1 from [N, 1, F] and [1, S, F], l2 and cosine with x.y as
// tosa.fully_connected of the stored set (a bias of zeros); TOSA has no top-k, so the k nearest
// are taken one at a time: tosa.argmax of the negated distances (the first on ties), its one-hot
// (tosa.equal with the indices [1, S]) picking its distance and label (tosa.select,
// tosa.reduce_sum), then its distance replaced by the largest float's negation for the next.
void mlir_knn(MlirCtx &ctx) {
    const Attrs &attrs = ctx.node().attrs;
    const int k = (int)attrs.get_int("k");
    const std::string distance = attrs.get_enum("distance");
    const bool weighted = attrs.get_enum("vote") == "distance";
    const MlirValue &stored = ctx.x(1), &labels = ctx.x(2), &index = ctx.x(3);
    const int64_t n = ctx.x().type.dims[0], s = stored.type.dims[0], f = stored.type.dims[1];
    const int64_t classes = ctx.node().shape.dims[0];
    auto scalar = [&](const std::string &what, float v, int rank = 2) {
        return mlir_scalar(ctx, what, v, rank);
    };
    auto op = [&](const char *name, const std::vector<MlirValue> &operands, const std::string &what,
                  const char *element = "f32") {
        return mlir_elementwise(ctx, name, operands, what, element);
    };
    auto sum_over = [&](const MlirValue &v, int64_t axis, const std::string &what) {
        MlirType type = v.type;
        type.dims[(size_t)axis] = 1;
        return ctx.emit("tosa.reduce_sum", {v}, type, {MlirAttr::i64("axis", axis)}, what);
    };
    MlirValue queries = ctx.x();
    if (queries.type.dims.size() == 4) {
        MlirValue nchw = mlir_transpose(ctx, queries, {0, 3, 1, 2}, "nchw");
        queries = mlir_reshape(ctx, nchw, {n, f}, "queries");
    }

    MlirValue square_root;  // 1/2, the exponent of tosa.pow (TOSA has no sqrt): l2 and cosine
    if (distance != "l1") square_root = scalar("square_root", 0.5f);
    MlirValue ranked;  // [N, S]
    if (distance == "l1") {
        MlirValue rows = mlir_reshape(ctx, queries, {n, 1, f}, "rows");
        MlirValue samples = mlir_reshape(ctx, stored, {1, s, f}, "samples");
        MlirValue difference = op("tosa.sub", {rows, samples}, "difference");
        MlirValue absolute = ctx.emit("tosa.abs", {difference}, difference.type, {}, "absolute");
        MlirValue sums = sum_over(absolute, 2, "sums");
        ranked = mlir_reshape(ctx, sums, {n, s}, "distances");
    } else {
        MlirValue no_bias = ctx.constant("no_bias", std::vector<float>((size_t)s, 0.0f), {s});
        MlirValue dot =
            ctx.emit("tosa.fully_connected", {queries, stored, no_bias}, {{n, s}}, {}, "dot");
        MlirValue query_squares =
            sum_over(mlir_mul(ctx, queries, queries, "query_products"), 1, "query_squares");
        MlirValue stored_column =
            sum_over(mlir_mul(ctx, stored, stored, "stored_products"), 1, "stored_column");
        MlirValue stored_squares = mlir_reshape(ctx, stored_column, {1, s}, "stored_squares");
        if (distance == "l2") {
            MlirValue both = op("tosa.add", {query_squares, stored_squares}, "both_squares");
            MlirValue twice = mlir_mul(ctx, dot, scalar("two", 2.0f), "twice_dot");
            MlirValue expanded = op("tosa.sub", {both, twice}, "expanded");
            ranked = op("tosa.maximum", {expanded, scalar("no_distance", 0.0f)}, "squared");
        } else {
            MlirValue product = mlir_mul(ctx, query_squares, stored_squares, "square_norms");
            MlirValue norms = op("tosa.pow", {product, square_root}, "norms");
            MlirValue safe = op("tosa.maximum", {norms, scalar("tiny", 1e-30f)}, "safe_norms");
            MlirValue inverse = ctx.emit("tosa.reciprocal", {safe}, safe.type, {}, "inverse_norms");
            MlirValue cosine = mlir_mul(ctx, dot, inverse, "cosine");
            MlirValue one = scalar("one", 1.0f);
            MlirValue apart = op("tosa.sub", {one, cosine}, "apart");
            MlirValue positive =
                op("tosa.greater", {norms, scalar("zero", 0.0f)}, "positive", "i1");
            ranked = op("tosa.select", {positive, apart, one}, "distances");
        }
    }

    MlirValue zero = scalar("nothing", 0.0f);
    MlirValue taken;  // the largest float's negation, for the distances already taken
    if (k > 1) taken = scalar("taken", -std::numeric_limits<float>::max());
    MlirValue remaining = ctx.emit("tosa.negate", {ranked}, ranked.type, {}, "closeness");
    std::vector<MlirValue> near, neighbour_labels;  // [N, 1] each, nearest first
    for (int j = 0; j < k; j++) {
        const std::string at = "_" + std::to_string(j);
        MlirValue best = ctx.emit("tosa.argmax", {remaining}, {{n}, "i32"},
                                  {MlirAttr::i64("axis", 1)}, "argmax" + at);
        MlirValue column = mlir_reshape(ctx, best, {n, 1}, "nearest" + at);
        MlirValue pick = op("tosa.equal", {column, index}, "pick" + at, "i1");
        MlirValue picked = op("tosa.select", {pick, ranked, zero}, "picked" + at);
        MlirValue d = sum_over(picked, 1, "ranked" + at);
        if (distance == "l2") d = op("tosa.pow", {d, square_root}, "distance" + at);
        near.push_back(d);
        MlirValue label = op("tosa.select", {pick, labels, zero}, "label_picked" + at);
        neighbour_labels.push_back(sum_over(label, 1, "label" + at));
        if (j + 1 < k) {
            remaining = op("tosa.select", {pick, taken, remaining}, "remaining" + at);
        }
    }

    std::vector<float> class_index;
    for (int64_t c = 0; c < classes; c++) class_index.push_back((float)c);
    MlirValue class_row = ctx.constant("classes", class_index, {1, classes});
    MlirValue one_vote = scalar("one_vote", 1.0f), exact;
    if (weighted) exact = op("tosa.equal", {near[0], zero}, "exact", "i1");
    MlirValue shares, total;
    for (int j = 0; j < k; j++) {
        const std::string at = "_" + std::to_string(j);
        MlirValue hit =
            op("tosa.equal", {neighbour_labels[(size_t)j], class_row}, "hit" + at, "i1");
        MlirValue weight = one_vote;
        if (weighted) {
            MlirValue at_zero = op("tosa.equal", {near[(size_t)j], zero}, "at_zero" + at, "i1");
            MlirValue zero_vote = op("tosa.select", {at_zero, weight, zero}, "zero_vote" + at);
            MlirValue inverse = ctx.emit("tosa.reciprocal", {near[(size_t)j]}, near[(size_t)j].type,
                                         {}, "inverse" + at);
            weight = op("tosa.select", {exact, zero_vote, inverse}, "weight" + at);
            total = j == 0 ? weight : op("tosa.add", {total, weight}, "total" + at);
        }
        MlirValue vote = op("tosa.select", {hit, weight, zero}, "votes" + at);
        shares = j == 0 ? vote : op("tosa.add", {shares, vote}, "shares" + at);
    }
    MlirValue scale = weighted
                          ? ctx.emit("tosa.reciprocal", {total}, total.type, {}, "inverse_total")
                          : scalar("per_vote", 1.0f / (float)k);
    ctx.set_value(mlir_mul(ctx, shares, scale, "probs"));
}

}  // namespace

const OpDef &knn_classifier_op() {
    static const OpDef def = {
        .name = "knn",
        .summary = "the nearest neighbours' vote shares, for the exports",
        .min_inputs = 3,
        .max_inputs = 4,
        .user_visible = false,
        .onnx = onnx_knn,
        .mlir = mlir_knn,
    };
    return def;
}

Node knn_classifier_node(const Graph &graph, const std::string &name) {
    Node node;
    node.id = (int)graph.nodes.size();
    node.op = &knn_classifier_op();
    node.name = name;
    node.loc = graph.classifier->loc;
    node.inputs = {graph.forward_count - 1};
    node.attrs = graph.classifier->attrs;
    node.shape = Shape{{graph.classes}};
    return node;
}

}  // namespace netc
