#pragma once
// Pass: the inference graph with trained weights -> an ONNX model (`netc FILE --weights CKPT
// --emit=onnx -o model.onnx`, docs/export.md).
//
// The model has one input `input` [N, C, H, W] (float, N a dynamic batch dimension) and one
// output `probs` [N, classes], the softmax of the logits. The normalization the model was trained
// with, when the checkpoint records one, is a leading Sub and Div; each layer is what its op's
// ONNX rule (compiler/Onnx.h) makes of it in inference: batchnorm with its running statistics,
// dropout, stochastic depth and DropConnect gone. Parameters are initializers under their torch
// names (`conv1.weight`); each layer's value is named as the layer. Opset 13, IR version 8.

#include "compiler/Graph.h"
#include "compiler/LowerProgram.h"
#include "compiler/ParamLayout.h"
#include "dsl/Diagnostics.h"

#include <optional>
#include <string>

namespace netc {

/// The ONNX opset the exporter writes (the default domain's).
constexpr int onnx_opset = 13;

/// The serialized ModelProto of `graph` with the arena and normalization of `weights`, or nullopt
/// after an error at each layer whose op has no ONNX mapping (naming the layer and the op).
std::optional<std::string> export_onnx(const Graph &graph, const ParamLayout &layout,
                                       const EmbeddedWeights &weights, Diagnostics &diags);

}  // namespace netc
