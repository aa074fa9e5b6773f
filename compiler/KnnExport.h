#pragma once
// A kNN model's classifier (`classify knn(...)`) in the exports: after the model's layers, the
// exporters run it as one more node, `probs`, whose op's ONNX and MLIR rules compute what the
// classify pipeline does (compiler/Knn.h): each query's distance to every stored sample, its k
// nearest (of equal distances the lower index first) and their vote shares. Its inputs are the
// features (the last layer's value, or the normalized image), the stored set's features
// `reference.features` [S, F] and its labels `reference.labels` [S], as the checkpoint holds
// them; TOSA's rule takes two more, the labels as floats [1, S] and the indices 0..S-1 [1, S]
// (its one-hot of the nearest).

#include "compiler/ops/Op.h"

namespace netc {

/// The classifier as an op of the exports; not in the op table, nothing to lower or train.
const OpDef &knn_classifier_op();

/// The classifier as a node of that op for an exporter: named `name` (a name no layer can
/// take), at the `classify` line, reading the last forward node's value, with the classifier's
/// attributes (k, distance, vote) and the shape [classes].
Node knn_classifier_node(const Graph &graph, const std::string &name);

}  // namespace netc
