#pragma once
// Plain C++ references of every op's forward pass, the oracle the lowering tests compare the
// generated code against. Straight loops over PyTorch's layouts (NCHW images, (N, F) vectors),
// double accumulation, parameters read in torch layout (Linear weight [out, in], Conv2d weight
// [out, in, kh, kw], ...). Written from each op's definition in PyTorch, not from the Halide
// lowering, so the two are independent: a shared misreading would have to be made twice.
// No Halide here.

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace netc::reference {

/// A batch of values: images (N, C, H, W) or vectors (N, F), row-major.
struct Tensor {
    Shape shape;  // per sample: [C, H, W] or [F]
    int batch = 0;
    std::vector<double> data;  // (batch, C, H, W) or (batch, F)

    Tensor() = default;
    Tensor(Shape shape, int batch);
    /// Copies `values` (batch * shape.elements() floats, in the layout above).
    static Tensor from(Shape shape, int batch, const float *values);

    bool image() const { return shape.rank() == 3; }
    int channels() const { return (int)shape.dims[0]; }
    int height() const { return image() ? (int)shape.dims[1] : 1; }
    int width() const { return image() ? (int)shape.dims[2] : 1; }
    /// Elements per channel per sample: H*W for images, 1 for vectors.
    int pixels() const { return height() * width(); }

    double &at(int n, int c, int y, int x) {
        return data[(((size_t)n * channels() + c) * height() + y) * width() + x];
    }
    double at(int n, int c, int y, int x) const {
        return data[(((size_t)n * channels() + c) * height() + y) * width() + x];
    }
    /// Element (n, c, p) with p the pixel y * W + x; for vectors p is 0.
    double &at(int n, int c, int p = 0) {
        return data[((size_t)n * channels() + c) * pixels() + p];
    }
    double at(int n, int c, int p = 0) const {
        return data[((size_t)n * channels() + c) * pixels() + p];
    }
};

// Parameters are passed as pointers into the arena, in torch layout; null for an absent tensor.

/// y[n, o] = b[o] + sum_i W[o, i] x[n, i]   (W [units, F])
Tensor dense(const Tensor &in, int units, const float *weight, const float *bias);
/// dense with double weights (DropConnect's masked weight, unrounded).
Tensor dense(const Tensor &in, int units, const double *weight, const float *bias);
/// y[n, f, oy, ox] = b[f] + sum_{c, ky, kx} W[f, c, ky, kx] x[n, c, oy*s + ky*d - p, ox*s + kx*d -
/// p] with x = 0 outside the image   (W [filters, C, k, k])
Tensor conv2d(const Tensor &in, int filters, int kernel, int stride, int pad, int dilation,
              const float *weight, const float *bias);
/// conv2d with double weights (DropConnect's masked weight, unrounded).
Tensor conv2d(const Tensor &in, int filters, int kernel, int stride, int pad, int dilation,
              const double *weight, const float *bias);
/// The maximum over each k x k window; positions in the padding are skipped (never win).
Tensor maxpool(const Tensor &in, int kernel, int stride, int pad);
/// torch.nn.FractionalMaxPool2d's region starts along one axis of `in` pixels pooled to `out`
/// regions of `kernel`, for the draw `u` (ATen's generate_intervals, in float as for float
/// tensors): floor((i + u) * alpha) - floor(u * alpha), alpha = (in - kernel) / (out - 1), and
/// in - kernel for the last.
std::vector<int> fractional_intervals(float u, int in, int out, int kernel);
/// The draws (u_x, u_y) of sample n of a fractional_maxpool layer: uniform(bits(rng_key,
/// node_id), 2n) and (.., 2n + 1) in training, 0.5 and 0.5 in inference.
std::pair<float, float> fractional_draws(bool train, uint32_t rng_key, int node_id, int n);
/// The maximum over each kernel x kernel region of fractional_intervals, regions drawn per
/// sample by fractional_draws and shared by its channels; out [C, out_h, out_w].
Tensor fractional_maxpool(const Tensor &in, int kernel, int out_h, int out_w, bool train,
                          uint32_t rng_key, int node_id);
/// The sum over each k x k window divided by k*k (padding counts as zeros: count_include_pad).
Tensor avgpool(const Tensor &in, int kernel, int stride, int pad);
/// y[n, c] = mean over (y, x) of x[n, c, y, x]
Tensor global_avgpool(const Tensor &in);
/// [C, H, W] -> [C*H*W] in row-major (torch.flatten(x, 1)) order; vectors pass through.
Tensor flatten(const Tensor &in);
/// The elementwise sum of two or more tensors of one shape.
Tensor add(const std::vector<const Tensor *> &in);
/// torch.cat(in, dim=1).
Tensor concat(const std::vector<const Tensor *> &in);

Tensor sigmoid(const Tensor &in);
Tensor tanh(const Tensor &in);
Tensor relu(const Tensor &in);
Tensor leaky_relu(const Tensor &in, double alpha);
/// `slopes` has `count` entries: one per channel, or one shared by all.
Tensor prelu(const Tensor &in, const float *slopes, int count);
Tensor elu(const Tensor &in, double alpha);
Tensor selu(const Tensor &in);
/// y[c] = max_k x[c * pieces + k]
Tensor maxout(const Tensor &in, int pieces);
/// x * Phi(x) with the exact normal CDF, or torch's tanh approximation.
Tensor gelu(const Tensor &in, bool tanh_form);

/// Train: per-channel mean and biased variance over (n, y, x) of this batch; infer: the running
/// statistics. y = (x - mean) / sqrt(var + eps) * weight + bias (weight, bias null: 1, 0).
Tensor batchnorm(const Tensor &in, bool train, double eps, const float *weight, const float *bias,
                 const float *running_mean, const float *running_var);
/// Statistics over all of one sample's elements; weight and bias have the sample's shape.
Tensor layernorm(const Tensor &in, double eps, const float *weight, const float *bias);
/// Statistics over each group of C/groups consecutive channels (and their pixels) of one sample;
/// weight and bias per channel.
Tensor groupnorm(const Tensor &in, int groups, double eps, const float *weight, const float *bias);
/// Train: element i (its NCHW index within the batch) is kept, scaled by 1/(1-p), iff
/// netc::random::uniform(netc::random::bits(rng_key, node_id), i) >= p; otherwise 0.
/// Infer: the identity.
Tensor dropout(const Tensor &in, bool train, double p, uint32_t rng_key, int node_id);
/// torchvision.ops.stochastic_depth: train: sample n (row mode) or the whole batch (batch mode)
/// is kept, scaled by 1/(1-p), iff netc::random::uniform(netc::random::bits(rng_key, node_id), n)
/// (batch mode: index 0) >= p; otherwise 0. Infer: the identity.
Tensor stochastic_depth(const Tensor &in, bool train, double p, bool row, uint32_t rng_key,
                        int node_id);
/// DropConnect's weight as a training step uses it: element i of the `count` weights (torch
/// order) times 1/(1-p) iff netc::random::uniform(netc::random::bits(rng_key, node_id), i) >= p,
/// else 0. In double, so finite differences of the weight see no rounding steps.
std::vector<double> dropconnect(const float *weight, size_t count, double p, uint32_t rng_key,
                                int node_id);

/// Softmax over each row of (N, classes) logits.
/// Histograms of oriented gradients as Dalal and Triggs define them (docs/language.md, `hog`):
/// centred differences with repeated edges, the strongest channel per pixel, unsigned
/// orientations voting linearly into the two nearest bins, cell histograms, overlapping blocks
/// normalized by `norm` ("l2hys", "l2", "l1", "l1sqrt"). Out [blocks_y * blocks_x * block^2 *
/// bins].
Tensor hog(const Tensor &in, int cell, int block, int bins, const std::string &norm);

/// Per channel, the fraction of pixels in each of `bins` bins over [low, high]; out [C * bins].
Tensor color_histogram(const Tensor &in, int bins, double low, double high);

/// k nearest neighbours by brute force (docs/language.md, `classify knn`): every distance in
/// double, the reference sorted stably by it (equal distances keep the lower index first);
/// `distance` is "l1", "l2" (Euclidean) or "cosine" (1 - cos, 1 against a zero vector).
struct Neighbors {
    std::vector<int> index;        // (queries, k)
    std::vector<double> distance;  // (queries, k)
    std::vector<double> probs;     // (queries, classes): vote shares
};
Neighbors knn(const std::vector<float> &queries, int count, const std::vector<float> &reference,
              const std::vector<int32_t> &labels, int features, int k, int classes,
              const std::string &distance, const std::string &vote);

Tensor softmax(const Tensor &logits);

/// One node's value from its inputs' values (in node.inputs order), its parameters read from
/// the arena `params` at the layout's offsets.
Tensor apply(const Graph &graph, const ParamLayout &layout, const float *params, const Node &node,
             const std::vector<const Tensor *> &inputs, bool train, uint32_t rng_key);

/// Every node's value, composed op by op from `images` (batch, C, H, W): result[0] is the input.
std::vector<Tensor> forward(const Graph &graph, const ParamLayout &layout, const float *params,
                            const float *images, int batch, bool train, uint32_t rng_key);

/// Inference-mode class probabilities (batch, classes).
Tensor predict(const Graph &graph, const ParamLayout &layout, const float *params,
               const float *images, int batch);

}  // namespace netc::reference
