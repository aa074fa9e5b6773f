#pragma once
// A nearest-neighbour model (`classify knn(k, distance, vote)`, Graph::is_knn) as Halide: the
// model's layers compute each image's features, flattened in torch's order; a query's distance
// to every sample of a reference set (the stored training set's features) is reduced, block by
// block, into its k nearest, and those vote. The full distance matrix is never stored.
//
//   l1      sum |x - y|, a vectorized reduction (no matrix trick exists for it)
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

/// The stages of a kNN pipeline, by name, for the schedule stage (schedule_knn):
///   features     (f, n)   the layers' value, flattened
///   queries      (n, f)   the same, queries innermost: distances are vectors of queries
///   query_norm, reference_norm   (n), (r)   |x|^2 (l2, cosine)
///   tile         (n, r)   a register tile of sums over the features: x.y, or |x - y|
///   distance     (n, r)   the distance of query n to reference sample r
///   nearest      (n)      a Tuple: the k nearest distances, nearest first, then their indices
///   neighbors    (j, n)   int32 reference index of the j-th nearest
///   distances    (j, n)   its distance (Euclidean for l2)
///   probs        (c, n)   vote shares; needs reference_labels
struct KnnFuncs {
    Forward forward;  // the layers' lowerings (their schedules are the ops' own)
    std::map<std::string, Halide::Func> stages;
    Halide::RDom features_range;   // of tile's update
    Halide::RDom reference_range;  // of nearest's update
};

/// The features of `images` alone: what the `features` pipeline outputs.
Halide::Func lower_knn_features(const Graph &graph, const ParamLayout &layout,
                                const Halide::Func &images, const Halide::Expr &batch);

/// Features, distances, the k nearest and their vote. `reference` may be undefined when only
/// features are asked for; `reference_labels` when no vote is.
KnnFuncs lower_knn(const Graph &graph, const ParamLayout &layout, const KnnInputs &in);

/// The netc strategy for a kNN pipeline: see Knn.cpp.
void schedule_knn(const Graph &graph, KnnFuncs &funcs, const Halide::Target &target);

}  // namespace netc
