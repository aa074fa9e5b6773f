#pragma once
// Pass: the inference graph with trained weights -> MLIR text in the TOSA dialect (`netc FILE
// --weights CKPT --emit=mlir --batch N -o model.mlir`, docs/export.md).
//
// The text is one function in MLIR 14's syntax, `builtin.func @predict(%input:
// tensor<NxCxHxWxf32>) -> tensor<Nx<classes>xf32>`, of static shapes at the batch N given:
// the normalization the model was trained with, when the checkpoint records one, as a leading
// tosa.sub and tosa.mul; the NCHW input transposed to NHWC; each layer what its op's MLIR rule
// (compiler/Mlir.h) makes of it in inference (batchnorm with its running statistics, dropout,
// stochastic depth and DropConnect gone); the softmax of the logits. Parameters are tosa.const
// values named and shaped as torch (`%conv1.weight`) holding the checkpoint's floats bit for bit
// as hex; every operation carries the location of its layer in the .net file.

#include "compiler/Graph.h"
#include "compiler/LowerProgram.h"
#include "compiler/ParamLayout.h"
#include "dsl/Diagnostics.h"

#include <cstdint>
#include <optional>
#include <string>

namespace netc {

/// The MLIR text of `graph` at `batch` samples with the arena and normalization of `weights`,
/// or nullopt after an error at each layer whose op has no MLIR mapping (naming the layer and
/// the op).
std::optional<std::string> export_mlir(const Graph &graph, const ParamLayout &layout,
                                       const EmbeddedWeights &weights, int64_t batch,
                                       Diagnostics &diags);

}  // namespace netc
