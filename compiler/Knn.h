#pragma once
// A nearest-neighbour model (`classify knn(k, distance, vote)`, Graph::is_knn) as Halide: the
// model's layers compute each image's features, flattened in torch's order; a query's distance
// to every sample of a reference set (the stored training set's features) is reduced, block by
// block, into its k nearest, and those vote. The full distance matrix is never stored.
//
//   l1      sum |x - y| through sum x + sum y - 2 sum min(x, y): a blocked reduction like the
//           matrix product's, two vector operations per feature; rounding below 0 is clamped
//   l2      |x - y|^2 through |x|^2 + |y|^2 - 2 x.y, the dot products blocked like a matrix
//           product; rounding below 0 is clamped. Reported (and weighted) as Euclidean: sqrt
//   cosine  1 - x.y / (|x| |y|); a zero vector is at distance 1 from everything
//
// Ties: of reference samples at equal distance, the lower index is nearer; of classes with
// equal votes, the lower class index wins (the argmax of the vote shares). `vote=distance`
// weighs each neighbour by 1 / distance; where some neighbours are at distance 0, they alone
// vote, one vote each (scikit-learn's rule).

#include "compiler/Graph.h"
#include "compiler/LowerForward.h"
#include "compiler/ParamLayout.h"

#include <Halide.h>

#include <map>
#include <string>

namespace netc {

/// Floats of features per sample: the elements of the last layer's value (of the input when
/// the model has no layers).
int64_t knn_feature_count(const Graph &graph);

/// The model's k.
int knn_k(const Graph &graph);

struct KnnInputs {
    Halide::Func images;            // NCHW (x, y, c, n), normalized
    Halide::Expr batch;             // the images' extent
    Halide::Func reference;         // (f, r): the reference set's features, one row per sample
    Halide::Expr reference_count;   // its samples
    Halide::Func reference_labels;  // (r) int32
};

/// The stages of a kNN pipeline, by name, for the schedule stage (schedule_knn). Two plans,
/// chosen by the train block's batch (the queries a call):
///   features     (f, n)   the layers' value, flattened
/// with a pack's worth of queries or more, vectors of queries,
///   queries      (lane, f, pack)   the features, packed: query pack * knn_query_pack + lane
///   query_sum, reference_sum     (lane, pack), (r)   sum x^2 (l2, cosine), sum x (l1)
///   tile         (lane, pack, r)   sums over the features, x.y or 2 min(x, y): register tiles
///   distance     (lane, pack, r)   the distance of a query to reference sample r
/// with fewer (`by_feature`, a single query), vectors of features:
///   tile_lanes, query_sum_lanes, reference_sum_lanes   (lane, n, r), (lane, n), (lane, r)
///                         the sums over whole chunks of knn_query_pack features, by lane
///   tile, query_sum, reference_sum   (n, r), (n), (r)   the lanes added, then the last features
///   distance     (n, r)
/// and, in both,
///   part_nearest (n, part)  a Tuple: the k nearest distances among the samples of one of
///                         knn_reference_parts parts of the reference set, nearest first, then
///                         their indices
///   nearest      (n)      the same over the whole set: the parts' lists merged
///   neighbors    (j, n)   int32 reference index of the j-th nearest
///   distances    (j, n)   its distance (Euclidean for l2)
///   probs        (c, n)   vote shares; needs reference_labels
struct KnnFuncs {
    Forward forward;  // the layers' lowerings (their schedules are the ops' own)
    std::map<std::string, Halide::Func> stages;
    bool by_feature = false;       // the plan for fewer queries a call than a pack (below)
    Halide::RDom features_range;   // of tile's update (packed queries)
    Halide::RDom chunk_range;      // of tile_lanes' update (by feature)
    Halide::RDom lane_sum_range;   // of tile's first update: its lanes added (by feature)
    Halide::RDom reference_range;  // of part_nearest's update: the samples of a part
    Halide::RDom merge_range;      // of nearest's update: (neighbour, part)
};

/// The parts the reference set is searched in, each on its own: enough for every thread of a
/// machine to have some even when one query is classified.
constexpr int knn_reference_parts = 16;

/// Queries side by side in `queries`: a cache line of floats, a vector of them with AVX-512.
constexpr int knn_query_pack = 16;

/// The features of `images` alone: what the `features` pipeline outputs.
Halide::Func lower_knn_features(const Graph &graph, const ParamLayout &layout,
                                const Halide::Func &images, const Halide::Expr &batch);

/// Features, distances, the k nearest and their vote. `reference` may be undefined when only
/// features are asked for; `reference_labels` when no vote is.
KnnFuncs lower_knn(const Graph &graph, const ParamLayout &layout, const KnnInputs &in);

/// The netc strategy for a kNN pipeline: see Knn.cpp.
void schedule_knn(const Graph &graph, KnnFuncs &funcs, const Halide::Target &target);

}  // namespace netc
