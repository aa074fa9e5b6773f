#include "compiler/Knn.h"

#include "compiler/Lower.h"
#include "compiler/LowerForward.h"
#include "compiler/Schedule.h"
#include "dsl/Error.h"

#include <limits>

namespace netc {

using namespace Halide;

namespace {

// The kNN stages' own variables: a query n, a reference sample r, a feature f, a neighbour j.
const Var &query_var() {
    static const Var v("q");
    return v;
}
const Var &ref_var() {
    static const Var v("r");
    return v;
}

Forward knn_forward(const Graph &graph, const ParamLayout &layout, const Func &images,
                    const Expr &batch) {
    Func no_params("no_params");  // a kNN model has none (InferShapes refuses them)
    no_params(dims().c) = 0.0f;
    return lower_forward(graph, layout, Mode::Infer, no_params, images, batch, Expr(0u));
}

/// (f, n): the last value flattened in torch's order, as `flatten` does.
Func flattened(const Graph &graph, const Func &value) {
    const Dims &d = dims();
    const Shape &shape = graph.output().shape;
    Func features("features");
    if (shape.rank() == 1) {
        features(d.c, d.n) = value(d.c, d.n);
    } else {
        int h = (int)shape.dims[1], w = (int)shape.dims[2];
        features(d.c, d.n) = value(d.c / (h * w), d.c % w, (d.c / w) % h, d.n);
    }
    return features;
}

/// The slot-by-slot insertion of a candidate (c, index) into a sorted list of k: slots before
/// its place keep their entry, its place takes it, the rest shift down by one. A candidate equal
/// to an entry goes after it, so the lower index stays nearer.
std::vector<Expr> insert_sorted(const std::vector<Expr> &old, int k, const Expr &c,
                                const Expr &index) {
    std::vector<Expr> out(2 * (size_t)k);
    for (int i = 0; i < k; i++) {
        Expr keep = old[i] <= c;
        if (i == 0) {
            out[i] = select(keep, old[i], c);
            out[k + i] = select(keep, old[k + i], index);
        } else {
            Expr here = old[i - 1] <= c;
            out[i] = select(keep, old[i], here, c, old[i - 1]);
            out[k + i] = select(keep, old[k + i], here, index, old[k + i - 1]);
        }
    }
    return out;
}

}  // namespace

int64_t knn_feature_count(const Graph &graph) { return graph.output().shape.elements(); }

int knn_k(const Graph &graph) {
    internal_assert(graph.is_knn());
    return (int)graph.classifier->attrs.get_int("k");
}

Func lower_knn_features(const Graph &graph, const ParamLayout &layout, const Func &images,
                        const Expr &batch) {
    Forward fwd = knn_forward(graph, layout, images, batch);
    return flattened(graph, fwd.logits);
}

KnnFuncs lower_knn(const Graph &graph, const ParamLayout &layout, const KnnInputs &in) {
    const Dims &d = dims();
    const Var &n = query_var(), &r = ref_var();
    const int k = knn_k(graph);
    const int features_count = (int)knn_feature_count(graph);
    const std::string distance_kind = graph.classifier->attrs.get_enum("distance");
    KnnFuncs out;
    out.forward = knn_forward(graph, layout, in.images, in.batch);
    Func features = flattened(graph, out.forward.logits);
    out.stages["features"] = features;
    if (!in.reference.defined()) return out;

    // Tiles of queries and of reference samples past the end read the last one (clamped), so
    // a block of either may overhang; the nearest list is kept only for real queries.
    Func queries("queries");
    queries(n, d.c) = features(d.c, clamp(n, 0, in.batch - 1));
    Func reference("reference_clamped");
    reference(d.c, r) = in.reference(d.c, clamp(r, 0, in.reference_count - 1));
    out.stages["queries"] = queries;

    RDom rf(0, features_count, "feature");
    out.features_range = rf;
    Func tile("tile");
    tile(n, r) = 0.0f;
    if (distance_kind == "l1") {
        tile(n, r) += abs(queries(n, rf) - reference(rf, r));
    } else {
        tile(n, r) += queries(n, rf) * reference(rf, r);
    }
    out.stages["tile"] = tile;

    Func distance("distance");
    if (distance_kind == "l1") {
        distance(n, r) = tile(n, r);
    } else {
        Func query_norm("query_norm"), reference_norm("reference_norm");
        query_norm(n) = 0.0f;
        query_norm(n) += queries(n, rf) * queries(n, rf);
        reference_norm(r) = 0.0f;
        reference_norm(r) += reference(rf, r) * reference(rf, r);
        out.stages["query_norm"] = query_norm;
        out.stages["reference_norm"] = reference_norm;
        if (distance_kind == "l2") {
            distance(n, r) = max(query_norm(n) + reference_norm(r) - 2.0f * tile(n, r), 0.0f);
        } else {
            Expr norms = sqrt(query_norm(n) * reference_norm(r));
            distance(n, r) = select(norms > 0.0f, 1.0f - tile(n, r) / max(norms, 1e-30f), 1.0f);
        }
    }
    out.stages["distance"] = distance;

    // The k nearest, nearest first: k distances, then k indices.
    Func nearest("nearest");
    std::vector<Expr> none;
    for (int i = 0; i < k; i++) none.push_back(Float(32).max());
    for (int i = 0; i < k; i++) none.push_back(Expr(-1));
    nearest(n) = Tuple(none);
    RDom rr(0, in.reference_count, "reference");
    out.reference_range = rr;
    std::vector<Expr> old;
    for (int i = 0; i < 2 * k; i++) old.push_back(nearest(n)[i]);
    nearest(n) = Tuple(insert_sorted(old, k, distance(n, rr), rr));
    out.stages["nearest"] = nearest;

    // What is reported: the index and the distance (Euclidean for l2) of each neighbour.
    std::vector<Expr> index(k), dist(k);
    for (int i = 0; i < k; i++) {
        index[i] = nearest(n)[k + i];
        dist[i] = distance_kind == "l2" ? sqrt(nearest(n)[i]) : nearest(n)[i];
    }
    Var j("j");
    Func neighbors("neighbors"), distances("distances");
    neighbors(j, n) = mux(j, index);
    distances(j, n) = mux(j, dist);
    out.stages["neighbors"] = neighbors;
    out.stages["distances"] = distances;
    if (!in.reference_labels.defined()) return out;

    // The vote. Sorted nearest first, so some neighbour is at distance 0 exactly when the first
    // is.
    const bool weighted = graph.classifier->attrs.get_enum("vote") == "distance";
    Expr exact = dist[0] == 0.0f;
    Expr total = 0.0f, share = 0.0f;
    Var c = d.c;
    for (int i = 0; i < k; i++) {
        Expr label = in.reference_labels(clamp(index[i], 0, in.reference_count - 1));
        Expr w = weighted ? select(exact, select(dist[i] == 0.0f, 1.0f, 0.0f), 1.0f / dist[i])
                          : Expr(1.0f);
        total += w;
        share += select(label == c, w, 0.0f);
    }
    Func probs("probs");
    probs(c, n) = share / total;
    out.stages["probs"] = probs;
    return out;
}

// Measured on a 2-core AMD EPYC (Zen 5, AVX-512, Halide's avx512_sapphirerapids): see
// bench/knn.sh. Every distance is a vector of W queries (the queries transposed once per call,
// a few MB), so the reference set, the large operand, is read in its natural row layout, one
// broadcast float at a time, and never copied; a single query wastes W - 1 lanes.
//   nearest's update: blocks of QB = 8W queries (one per thread) x RB = 64 reference samples;
//   each block's distances are computed at the block (QB x RB floats, in L1/L2), then merged
//   into the sorted lists, W queries at a time.
//   tile: 2W queries x 4 samples of sums held in registers across the loop over features.
void schedule_knn(const Graph &graph, KnnFuncs &f, const Target &target) {
    const Dims &d = dims();
    const Var &n = query_var(), &r = ref_var();
    const int width = vector_width(target);
    schedule_nodes(graph, f.forward, target, {});
    auto has = [&](const char *name) { return f.stages.count(name) > 0; };
    Func features = f.stages.at("features");
    features.compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf).parallel(d.n);
    if (!has("nearest")) return;

    const int query_block = 8 * width, reference_block = 64;
    Func queries = f.stages.at("queries");
    queries.compute_root().vectorize(n, width, TailStrategy::GuardWithIf).parallel(d.c);
    if (has("query_norm")) {
        Func query_norm = f.stages.at("query_norm"), reference_norm = f.stages.at("reference_norm");
        query_norm.compute_root().vectorize(n, width, TailStrategy::GuardWithIf);
        query_norm.update().vectorize(n, width, TailStrategy::GuardWithIf);
        // One pass over the reference set per call: each sample's sum, rows in parallel.
        reference_norm.compute_root().parallel(r, 256);
        reference_norm.update().parallel(r, 256);
    }

    Func nearest = f.stages.at("nearest"), distance = f.stages.at("distance");
    Func tile = f.stages.at("tile");
    RVar rr = f.reference_range.x, ro("ro"), ri("ri");
    Var no("no"), ni("ni");
    nearest.compute_root().vectorize(n, width, TailStrategy::GuardWithIf);
    nearest.update()
        .split(n, no, ni, query_block, TailStrategy::GuardWithIf)
        .split(rr, ro, ri, reference_block)
        .reorder(ni, ri, ro, no)
        .vectorize(ni, width, TailStrategy::GuardWithIf)
        .parallel(no);
    Var nt("nt"), rt("rt");
    distance.compute_at(nearest, ro)
        .tile(n, r, nt, rt, 2 * width, 4)
        .vectorize(nt, width)
        .unroll(nt)
        .unroll(rt);
    tile.compute_at(distance, n).vectorize(n, width).unroll(n).unroll(r);
    tile.update().reorder(n, r, f.features_range.x).vectorize(n, width).unroll(n).unroll(r);

    for (const char *name : {"neighbors", "distances", "probs"}) {
        if (has(name)) f.stages.at(name).compute_root().parallel(n);
    }
}

}  // namespace netc
