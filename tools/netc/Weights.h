#pragma once
// Reads a training checkpoint (safetensors, tensors named as the parameter layout names them)
// into a parameter arena, with the normalization recorded in its metadata: what
// `netc FILE --weights CKPT -o model.o` compiles into the object.

#include "compiler/Graph.h"
#include "compiler/LowerProgram.h"
#include "compiler/ParamLayout.h"

#include <string>

namespace netc {

/// Fails with a message naming the file and the tensor that differs (missing, unexpected or of
/// another shape: a checkpoint of another model), what is malformed, or the first NaN or
/// infinity (unless `allow_nonfinite`).
bool load_weights(const std::string &path, const Graph &graph, const ParamLayout &layout,
                  EmbeddedWeights &out, std::string &error, bool allow_nonfinite = false);

/// A kNN model's checkpoint (runtime/Knn.h): its stored set and normalization, for the exports.
/// Fails as runtime::load_knn_checkpoint does (another model, features of another size, labels
/// out of range, fewer samples than k, a NaN or infinity unless `allow_nonfinite`).
bool load_knn_weights(const std::string &path, const Graph &graph, const ParamLayout &layout,
                      EmbeddedWeights &out, std::string &error, bool allow_nonfinite = false);

}  // namespace netc
