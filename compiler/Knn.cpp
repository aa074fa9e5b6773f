#include "compiler/Knn.h"

#include "compiler/Lower.h"
#include "compiler/LowerForward.h"
#include "compiler/Schedule.h"
#include "dsl/Error.h"

#include <functional>
#include <limits>

namespace netc {

using namespace Halide;

namespace {

// The kNN stages' own variables: a query n, a reference sample r, a part of the reference set.
const Var &query_var() {
    static const Var v("q");
    return v;
}
const Var &ref_var() {
    static const Var v("r");
    return v;
}
const Var &part_var() {
    static const Var v("part");
    return v;
}
// A query n is lane n % knn_query_pack of pack n / knn_query_pack.
const Var &lane_var() {
    static const Var v("lane");
    return v;
}
const Var &pack_var() {
    static const Var v("pack");
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

/// A distance from the sum over a pair's features and each one's own sum (l1, l2: the
/// expansions; rounding below 0 is clamped), or the cosine distance from x.y and the norms.
Expr combine(const Expr &sum, const Expr &xs, const Expr &ys, const std::string &distance_kind) {
    if (distance_kind == "cosine") {
        Expr norms = sqrt(xs * ys);
        return select(norms > 0.0f, 1.0f - sum / max(norms, 1e-30f), 1.0f);
    }
    return max(xs + ys - (distance_kind == "l1" ? sum : 2.0f * sum), 0.0f);
}

/// Each query's distance to each reference sample when a call has a pack's worth of queries or
/// more: (lane, pack, r), vectors of queries.
Func packed_distance(KnnFuncs &out, const Func &features, const Func &reference,
                     const std::string &distance_kind, int features_count, const Expr &batch) {
    const Dims &d = dims();
    const Var &r = ref_var();
    const int P = knn_query_pack;
    const bool l1 = distance_kind == "l1";
    // Sums over the features: x.y for l2 and cosine; for l1, sum min(x, y), since
    // |x - y| = x + y - 2 min(x, y): two vector operations a feature instead of three (subtract,
    // absolute value, add), with each sample's own sum computed once.
    auto pair_term = [&](const Expr &x, const Expr &y) { return l1 ? min(x, y) * 2.0f : x * y; };
    auto own_term = [&](const Expr &x) { return l1 ? x : x * x; };
    // The queries packed: knn_query_pack of them side by side, feature after feature, so
    // that a tile of queries reads each feature's values as one contiguous stream.
    const Var &lane = lane_var(), &pack = pack_var();
    Func queries("queries");
    queries(lane, d.c, pack) = features(d.c, clamp(pack * P + lane, 0, batch - 1));
    out.stages["queries"] = queries;
    RDom rf(0, features_count, "feature");
    out.features_range = rf;
    Expr x = queries(lane, rf, pack), y = reference(rf, r);
    Func tile("tile");
    tile(lane, pack, r) = 0.0f;
    tile(lane, pack, r) += pair_term(x, y);
    Func query_sum("query_sum"), reference_sum("reference_sum");
    query_sum(lane, pack) = 0.0f;
    query_sum(lane, pack) += own_term(x);
    reference_sum(r) = 0.0f;
    reference_sum(r) += own_term(y);
    out.stages["tile"] = tile;
    out.stages["query_sum"] = query_sum;
    out.stages["reference_sum"] = reference_sum;
    Func distance("distance");
    distance(lane, pack, r) =
        combine(tile(lane, pack, r), query_sum(lane, pack), reference_sum(r), distance_kind);
    return distance;
}

/// The same with fewer queries a call than a pack's lanes: (n, r), vectors of features.
Func feature_distance(KnnFuncs &out, const Func &features, const Func &reference,
                      const std::string &distance_kind, int features_count, const Expr &batch) {
    const Var &n = query_var(), &r = ref_var();
    const int P = knn_query_pack;
    // Each sum is knn_query_pack lanes of sums over chunks of features, then the lanes added in
    // order, then the features past the last whole chunk. A matrix-vector product gains nothing
    // from packed_distance's expansions, so l1 and l2 sum |x - y| and (x - y)^2 directly: a
    // pass over the reference set fewer, and a query equal to a stored sample is at 0 exactly.
    const Var &lane = lane_var();
    const int chunks = features_count / P, tail = features_count % P;
    Expr query_n = clamp(n, 0, batch - 1);
    auto feature_sum = [&](const std::string &name, const std::vector<Var> &args,
                           const std::function<Expr(const Expr &)> &term) {
        Expr value = 0.0f;
        if (chunks > 0) {
            std::vector<Var> lane_args = {lane};
            lane_args.insert(lane_args.end(), args.begin(), args.end());
            Func lanes(name + "_lanes"), lanes_added(name + "_sum");
            lanes(lane_args) = 0.0f;
            RDom chunk(0, chunks, "chunk");
            lanes(lane_args) += term(chunk * P + lane);
            RDom lane_sum(0, P, "lane_sum");
            std::vector<Expr> at = {lane_sum.x};
            at.insert(at.end(), args.begin(), args.end());
            lanes_added(args) = 0.0f;
            lanes_added(args) += lanes(at);
            if (name == "tile") {
                out.chunk_range = chunk;
                out.lane_sum_range = lane_sum;
            }
            out.stages[name + "_lanes"] = lanes;
            out.stages[name + "_sum"] = lanes_added;
            value = lanes_added(args);
        }
        if (tail > 0) {
            Func rest(name + "_rest");
            rest(args) = 0.0f;
            RDom last(chunks * P, tail, "rest");
            rest(args) += term(last);
            out.stages[name + "_rest"] = rest;
            value += rest(args);
        }
        Func total(name);
        total(args) = value;
        out.stages[name] = total;
        return total;
    };
    Func tile = feature_sum("tile", {n, r}, [&](const Expr &c) {
        Expr x = features(c, query_n), y = reference(c, r);
        return distance_kind == "l1"   ? abs(x - y)
               : distance_kind == "l2" ? (x - y) * (x - y)
                                       : x * y;
    });
    Func distance("distance");
    if (distance_kind == "cosine") {
        Func query_sum = feature_sum("query_sum", {n}, [&](const Expr &c) {
            return features(c, query_n) * features(c, query_n);
        });
        Func reference_sum = feature_sum(
            "reference_sum", {r}, [&](const Expr &c) { return reference(c, r) * reference(c, r); });
        distance(n, r) = combine(tile(n, r), query_sum(n), reference_sum(r), distance_kind);
    } else {
        distance(n, r) = tile(n, r);
    }
    return distance;
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
    Func reference("reference_clamped");
    reference(d.c, r) = in.reference(d.c, clamp(r, 0, in.reference_count - 1));
    const int P = knn_query_pack;
    out.by_feature = graph.train.batch < P;
    Func distance =
        out.by_feature
            ? feature_distance(out, features, reference, distance_kind, features_count, in.batch)
            : packed_distance(out, features, reference, distance_kind, features_count, in.batch);
    auto candidate_distance = [&](const Expr &q, const Expr &s) {
        return out.by_feature ? distance(q, s) : distance(q % P, q / P, s);
    };
    out.stages["distance"] = distance;

    // The k nearest, nearest first: k distances, then k indices. The reference set is searched
    // in parts (in parallel, for a single query as for many), whose lists are then merged; a
    // part's samples past the end are no candidates.
    std::vector<Expr> none;
    for (int i = 0; i < k; i++) none.push_back(Float(32).max());
    for (int i = 0; i < k; i++) none.push_back(Expr(-1));
    const Var &p = part_var();
    Expr part_size = (in.reference_count + knn_reference_parts - 1) / knn_reference_parts;
    Func part_nearest("part_nearest");
    part_nearest(n, p) = Tuple(none);
    RDom rr(0, part_size, "reference");
    out.reference_range = rr;
    Expr sample = p * part_size + rr;
    Expr candidate =
        select(sample < in.reference_count, candidate_distance(n, sample), Float(32).max());
    std::vector<Expr> old;
    for (int i = 0; i < 2 * k; i++) old.push_back(part_nearest(n, p)[i]);
    part_nearest(n, p) = Tuple(insert_sorted(old, k, candidate, sample));
    out.stages["part_nearest"] = part_nearest;

    // Merged part by part, each part's list in order: the lower index stays nearer on ties.
    Func nearest("nearest");
    nearest(n) = Tuple(none);
    RDom merge(0, k, 0, knn_reference_parts, "merge");
    out.merge_range = merge;
    std::vector<Expr> part_distance, part_index;
    for (int i = 0; i < k; i++) {
        part_distance.push_back(part_nearest(n, merge.y)[i]);
        part_index.push_back(part_nearest(n, merge.y)[k + i]);
    }
    old.clear();
    for (int i = 0; i < 2 * k; i++) old.push_back(nearest(n)[i]);
    nearest(n) =
        Tuple(insert_sorted(old, k, mux(merge.x, part_distance), mux(merge.x, part_index)));
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

// Measured on a 2-core AMD EPYC (Zen 5, AVX-512; netc drops Halide's avx512_sapphirerapids
// there), 60,000 Fashion-MNIST images stored, 10,000 queries, k = 5 (bench/knn.sh). Every
// distance is a vector of 16 queries, a pack: the queries are packed once per call (a few MB),
// so the reference set, the large operand, is read in its natural row layout, one broadcast
// float at a time, and never copied.
//   part_nearest's update: blocks of QB = 128 queries x RB = 64 reference samples, a task per
//   (query block, part of the reference set), so that one query keeps every thread busy too;
//   each block's distances are computed at the block, then inserted into the sorted lists.
//   tile: tq packs x tr samples of sums held in registers across the loop over features; its
//   inner loop is 2 aligned loads, 8 broadcasts and 16 FMAs (l2) or 16 min + 16 FMA (l1).
// Figures (queries/s): l2 1,116 with the queries unpacked and a 2W x 4 tile, 1,720 packed with
// 2 packs x 8 (74 % of the machine's FMA peak, 228 GFLOP/s measured by netc bench; FAISS's
// flat index 1,255, scikit-learn 733); l1 1,027 as sum |x - y| (sub, and, add), the same as
// sum min(x, y) with an add, 1,297 with the min's accumulation as an FMA, which runs beside
// the min (scikit-learn 49). 8-wide vectors, larger tiles (3 x 8, 4 x 6, 2 x 12) and blocking
// the features for L1 residency measured no better or worse. The AVX2 code (1 pack x 4), run
// on the same machine through HL_JIT_TARGET while another build ran: l2 1,092, l1 933.
// By feature, one query a call: 103 (l2) and 104 (l1) queries/s, ~10 ms a query against the
// 9 ms of reading the 188 MB reference set once at the 21 GB/s measured here; before the
// lanes' accumulators were registers and the insertion scalar, 34 and 28.
void schedule_knn(const Graph &graph, KnnFuncs &f, const Target &target) {
    const Dims &d = dims();
    const Var &n = query_var(), &r = ref_var();
    const int width = vector_width(target);
    schedule_nodes(graph, f.forward, target, {});
    auto has = [&](const char *name) { return f.stages.count(name) > 0; };
    Func features = f.stages.at("features");
    features.compute_root().vectorize(d.c, width, TailStrategy::GuardWithIf).parallel(d.n);
    if (!has("nearest")) return;

    // The register tiles: tq packs of queries (16 lanes each) x tr reference samples, each a
    // vector accumulator: 16 of AVX-512's 32 registers, 8 of AVX2's 16; by feature, tr samples.
    const bool avx512 = width >= 16;
    const int tq = avx512 ? 2 : 1, tr = avx512 ? 8 : 4;
    const int query_block = 8 * knn_query_pack, reference_block = 64;
    Func part_nearest = f.stages.at("part_nearest"), nearest = f.stages.at("nearest");
    Func distance = f.stages.at("distance"), tile = f.stages.at("tile");
    RVar rr = f.reference_range.x, ro("ro"), ri("ri");
    Var no("no"), ni("ni"), task("task");
    part_nearest.compute_root().vectorize(n, width, TailStrategy::GuardWithIf);
    Stage insert = part_nearest.update();
    insert.split(n, no, ni, query_block, TailStrategy::GuardWithIf)
        .split(rr, ro, ri, reference_block)
        .reorder(ni, ri, ro, no, part_var());
    // By feature, a query at a time: the lists in scalar registers. Vectors of one real query
    // were masked loads and stores of the lists for every sample (half the time at batch 1).
    if (!f.by_feature) insert.vectorize(ni, width, TailStrategy::GuardWithIf);
    insert.fuse(no, part_var(), task).parallel(task);
    nearest.compute_root().vectorize(n, width, TailStrategy::GuardWithIf);
    nearest.update().vectorize(n, width, TailStrategy::GuardWithIf);
    if (has("reference_sum")) {
        // One pass over the reference set per call: each sample's sum, rows in parallel.
        Func reference_sum = f.stages.at("reference_sum");
        reference_sum.compute_root().parallel(r, 256);
        for (int i = 0; i < reference_sum.num_update_definitions(); i++) {
            reference_sum.update(i).parallel(r, 256);
        }
    }
    if (f.by_feature) {
        // Each sum's parts where it is used: a query's or a sample's lanes, a block's tiles.
        const Var &lane = lane_var();
        if (has("query_sum")) f.stages.at("query_sum").compute_root();
        for (const char *total : {"query_sum", "reference_sum"}) {
            if (!has(total)) continue;
            const std::string name = total;
            const Var &v = name[0] == 'q' ? n : r;
            for (const char *part : {"_sum", "_rest"}) {
                if (!has((name + part).c_str())) continue;
                f.stages.at(name + part).compute_at(f.stages.at(name), v);
            }
            if (has((name + "_lanes").c_str())) {
                Func lanes = f.stages.at(name + "_lanes");
                lanes.compute_at(f.stages.at(name + "_sum"), v).vectorize(lane, width);
                lanes.update().vectorize(lane, width);
            }
        }
        distance.compute_at(part_nearest, ro).vectorize(r, width, TailStrategy::GuardWithIf);
        if (has("tile_rest")) {
            Func rest = f.stages.at("tile_rest");
            rest.compute_at(part_nearest, ro).vectorize(r, width, TailStrategy::GuardWithIf);
            rest.update().unscheduled();  // the last few features, sample by sample
        }
        if (has("tile_lanes")) {
            // The register tile: a vector of features of one query x tr samples, computed per
            // tr samples, so that its accumulators are registers; then each sample's lanes
            // added in order.
            Func lanes = f.stages.at("tile_lanes"), sum = f.stages.at("tile_sum");
            Var rto("rto");
            sum.compute_at(part_nearest, ro).vectorize(r, width, TailStrategy::GuardWithIf);
            sum.update()
                .split(r, rto, r, tr, TailStrategy::RoundUp)
                .reorder(f.lane_sum_range.x, r, rto, n);
            lanes.compute_at(sum, rto).vectorize(lane, width).unroll(lane).unroll(r);
            lanes.update()
                .reorder(lane, r, f.chunk_range.x, n)
                .vectorize(lane, width)
                .unroll(lane)
                .unroll(r);
        }
    } else {
        const Var &lane = lane_var(), &pack = pack_var();
        Func queries = f.stages.at("queries");
        queries.compute_root().vectorize(lane, width).parallel(pack);
        Func query_sum = f.stages.at("query_sum");
        query_sum.compute_root().vectorize(lane, width);
        query_sum.update().vectorize(lane, width);

        Var po("po"), rto("rto");
        distance.compute_at(part_nearest, ro)
            .split(pack, po, pack, tq, TailStrategy::RoundUp)
            .split(r, rto, r, tr, TailStrategy::RoundUp)
            .reorder(lane, pack, r, po, rto)
            .vectorize(lane, width)
            .unroll(lane)
            .unroll(pack)
            .unroll(r);
        tile.compute_at(distance, po).vectorize(lane, width).unroll(lane).unroll(pack).unroll(r);
        tile.update()
            .reorder(lane, pack, r, f.features_range.x)
            .vectorize(lane, width)
            .unroll(lane)
            .unroll(pack)
            .unroll(r);
    }

    for (const char *name : {"neighbors", "distances", "probs"}) {
        if (has(name)) f.stages.at(name).compute_root().parallel(n);
    }
}

}  // namespace netc
