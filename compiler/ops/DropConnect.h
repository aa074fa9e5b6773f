#pragma once
// DropConnect (Wan et al. 2013): the `dropconnect=p` attribute of dense and conv2d. While
// training, each weight element is dropped with probability p and the kept ones are scaled by
// 1 / (1 - p), as inverted dropout scales activations; in inference the layer uses its plain
// weights, the mask's expectation. One mask per step (per batch: every sample of the step sees
// the same weights; a mask per sample would be a copy of the weight tensor per sample), drawn
// from (seed, step, layer, element) like dropout's, so a resumed run draws the same masks.
// The ops call these helpers from their own lowerings; the attribute itself is one AttrSpec.

#include "compiler/Lower.h"

namespace netc {

/// The optional `dropconnect` attribute, in [0, 1); absent: no mask.
AttrSpec dropconnect_attr();

/// Whether `ctx` lowers a layer (or one of its backward nodes) whose weights are masked here:
/// training mode and dropconnect > 0.
bool dropconnect_active(const LowerCtx &ctx);

/// mask / (1 - p) of the weight element at `index`, its position in the tensor's torch order
/// (row-major [units, F] or [filters, C, k, k]): 1 / (1 - p) or 0. Only when active.
Halide::Expr dropconnect_scale(const LowerCtx &ctx, const Halide::Expr &index);

/// The weight element `w` at torch-order `index` as this lowering uses it: w * mask / (1 - p)
/// when active, w otherwise.
Halide::Expr dropconnect_weight(const LowerCtx &ctx, const Halide::Expr &w,
                                const Halide::Expr &index);

/// FLOPs of applying the mask once to a layer's weight tensor of `weights` elements: one per
/// element when the layer has dropconnect > 0, as dropout counts one per element. A FLOP rule has
/// no mode, so the backward nodes count the masks (they exist only in training): dx's mask on
/// the input-gradient node, dW's and the forward's on the weight-gradient node.
double dropconnect_flops(const Node &layer, double weights);

}  // namespace netc
