#include "compiler/Reference.h"

#include "compiler/Random.h"
#include "compiler/ops/Op.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

namespace netc::reference {

Tensor::Tensor(Shape shape, int batch)
    : shape(std::move(shape)), batch(batch), data((size_t)batch * this->shape.elements(), 0.0) {}

Tensor Tensor::from(Shape shape, int batch, const float *values) {
    Tensor t(std::move(shape), batch);
    for (size_t i = 0; i < t.data.size(); i++) t.data[i] = values[i];
    return t;
}

namespace {

// PyTorch's output size of a window along one axis: floor((in + 2p - d(k-1) - 1) / s) + 1.
int window_out(int in, int kernel, int stride, int pad, int dilation) {
    return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

Tensor map(const Tensor &in, const std::function<double(double)> &fn) {
    Tensor out = in;
    for (double &v : out.data) v = fn(v);
    return out;
}

// Mean and biased variance of a list of numbers, two-pass.
void moments(const std::vector<double> &xs, double &mean, double &var) {
    mean = 0;
    for (double x : xs) mean += x;
    mean /= (double)xs.size();
    var = 0;
    for (double x : xs) var += (x - mean) * (x - mean);
    var /= (double)xs.size();
}

}  // namespace

namespace {

template <typename W>
Tensor dense_of(const Tensor &in, int units, const W *weight, const float *bias) {
    int features = (int)in.shape.elements();
    Tensor out(Shape{{units}}, in.batch);
    for (int n = 0; n < in.batch; n++) {
        for (int o = 0; o < units; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (int i = 0; i < features; i++) {
                acc += (double)weight[(size_t)o * features + i] * in.data[(size_t)n * features + i];
            }
            out.at(n, o) = acc;
        }
    }
    return out;
}

template <typename W>
Tensor conv2d_of(const Tensor &in, int filters, int kernel, int stride, int pad, int dilation,
                 const W *weight, const float *bias) {
    int channels = in.channels(), h = in.height(), w = in.width();
    int oh = window_out(h, kernel, stride, pad, dilation);
    int ow = window_out(w, kernel, stride, pad, dilation);
    Tensor out(Shape{{filters, oh, ow}}, in.batch);
    for (int n = 0; n < in.batch; n++) {
        for (int f = 0; f < filters; f++) {
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    double acc = bias ? bias[f] : 0.0;
                    for (int c = 0; c < channels; c++) {
                        for (int ky = 0; ky < kernel; ky++) {
                            for (int kx = 0; kx < kernel; kx++) {
                                int iy = oy * stride + ky * dilation - pad;
                                int ix = ox * stride + kx * dilation - pad;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                size_t wi =
                                    (((size_t)f * channels + c) * kernel + ky) * kernel + kx;
                                acc += (double)weight[wi] * in.at(n, c, iy, ix);
                            }
                        }
                    }
                    out.at(n, f, oy, ox) = acc;
                }
            }
        }
    }
    return out;
}

}  // namespace

Tensor dense(const Tensor &in, int units, const float *weight, const float *bias) {
    return dense_of(in, units, weight, bias);
}
Tensor dense(const Tensor &in, int units, const double *weight, const float *bias) {
    return dense_of(in, units, weight, bias);
}
Tensor conv2d(const Tensor &in, int filters, int kernel, int stride, int pad, int dilation,
              const float *weight, const float *bias) {
    return conv2d_of(in, filters, kernel, stride, pad, dilation, weight, bias);
}
Tensor conv2d(const Tensor &in, int filters, int kernel, int stride, int pad, int dilation,
              const double *weight, const float *bias) {
    return conv2d_of(in, filters, kernel, stride, pad, dilation, weight, bias);
}

namespace {

// A pooling op: each output is `reduce` of the window's taps that fall inside the image.
Tensor pool(const Tensor &in, int kernel, int stride, int pad,
            const std::function<double(const std::vector<double> &)> &reduce) {
    int oh = window_out(in.height(), kernel, stride, pad, 1);
    int ow = window_out(in.width(), kernel, stride, pad, 1);
    Tensor out(Shape{{in.channels(), oh, ow}}, in.batch);
    std::vector<double> taps;
    for (int n = 0; n < in.batch; n++) {
        for (int c = 0; c < in.channels(); c++) {
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    taps.clear();
                    for (int ky = 0; ky < kernel; ky++) {
                        for (int kx = 0; kx < kernel; kx++) {
                            int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                            if (iy < 0 || iy >= in.height() || ix < 0 || ix >= in.width()) continue;
                            taps.push_back(in.at(n, c, iy, ix));
                        }
                    }
                    out.at(n, c, oy, ox) = reduce(taps);
                }
            }
        }
    }
    return out;
}

}  // namespace

Tensor maxpool(const Tensor &in, int kernel, int stride, int pad) {
    return pool(in, kernel, stride, pad, [](const std::vector<double> &taps) {
        if (taps.empty()) throw std::logic_error("maxpool window entirely in the padding");
        return *std::max_element(taps.begin(), taps.end());
    });
}

std::vector<int> fractional_intervals(float u, int in, int out, int kernel) {
    std::vector<int> starts(out);
    if (out > 1) {
        float alpha = (float)(in - kernel) / (float)(out - 1);
        for (int i = 0; i < out - 1; i++) {
            starts[i] = (int)(((float)i + u) * alpha) - (int)(u * alpha);
        }
    }
    starts[out - 1] = in - kernel;
    return starts;
}

std::pair<float, float> fractional_draws(bool train, uint32_t rng_key, int node_id, int n) {
    if (!train) return {0.5f, 0.5f};
    uint32_t key = random::bits(rng_key, (uint32_t)node_id);
    return {random::uniform(key, (uint32_t)(2 * n)), random::uniform(key, (uint32_t)(2 * n + 1))};
}

Tensor fractional_maxpool(const Tensor &in, int kernel, int out_h, int out_w, bool train,
                          uint32_t rng_key, int node_id) {
    Tensor out(Shape{{in.channels(), out_h, out_w}}, in.batch);
    for (int n = 0; n < in.batch; n++) {
        auto [ux, uy] = fractional_draws(train, rng_key, node_id, n);
        std::vector<int> xs = fractional_intervals(ux, in.width(), out_w, kernel);
        std::vector<int> ys = fractional_intervals(uy, in.height(), out_h, kernel);
        for (int c = 0; c < in.channels(); c++) {
            for (int oy = 0; oy < out_h; oy++) {
                for (int ox = 0; ox < out_w; ox++) {
                    double best = -std::numeric_limits<double>::infinity();
                    for (int ky = 0; ky < kernel; ky++) {
                        for (int kx = 0; kx < kernel; kx++) {
                            best = std::max(best, in.at(n, c, ys[oy] + ky, xs[ox] + kx));
                        }
                    }
                    out.at(n, c, oy, ox) = best;
                }
            }
        }
    }
    return out;
}

Tensor avgpool(const Tensor &in, int kernel, int stride, int pad) {
    return pool(in, kernel, stride, pad, [kernel](const std::vector<double> &taps) {
        double total = 0;
        for (double t : taps) total += t;
        return total / (double)(kernel * kernel);  // padded zeros count
    });
}

Tensor global_avgpool(const Tensor &in) {
    Tensor out(Shape{{in.channels()}}, in.batch);
    for (int n = 0; n < in.batch; n++) {
        for (int c = 0; c < in.channels(); c++) {
            double total = 0;
            for (int p = 0; p < in.pixels(); p++) total += in.at(n, c, p);
            out.at(n, c) = total / in.pixels();
        }
    }
    return out;
}

Tensor hog(const Tensor &in, int cell, int block, int bins, const std::string &norm) {
    const int h = in.height(), w = in.width();
    const int cells_y = h / cell, cells_x = w / cell;
    const int blocks_y = cells_y - block + 1, blocks_x = cells_x - block + 1;
    const int per_block = block * block * bins;
    Tensor out(Shape{{(int64_t)blocks_y * blocks_x * per_block}}, in.batch);
    const double eps = 1e-5;
    for (int n = 0; n < in.batch; n++) {
        // hist[(cy * cells_x + cx) * bins + b]
        std::vector<double> hist((size_t)cells_y * cells_x * bins, 0.0);
        for (int y = 0; y < cells_y * cell; y++) {
            for (int x = 0; x < cells_x * cell; x++) {
                double gx = 0, gy = 0, strongest = -1;
                for (int c = 0; c < in.channels(); c++) {
                    double dx =
                        in.at(n, c, y, std::min(x + 1, w - 1)) - in.at(n, c, y, std::max(x - 1, 0));
                    double dy =
                        in.at(n, c, std::min(y + 1, h - 1), x) - in.at(n, c, std::max(y - 1, 0), x);
                    if (dx * dx + dy * dy > strongest) {
                        strongest = dx * dx + dy * dy;
                        gx = dx, gy = dy;
                    }
                }
                double angle = std::atan2(gy, gx) * 180.0 / M_PI;  // (-180, 180]
                if (angle < 0) angle += 180;
                if (angle >= 180) angle -= 180;
                const double position = angle / (180.0 / bins) - 0.5;  // bin centres at b + 1/2
                const int below = (int)std::floor(position);
                const double frac = position - below;
                const double magnitude = std::sqrt(gx * gx + gy * gy);
                double *cell_hist = &hist[((size_t)(y / cell) * cells_x + x / cell) * bins];
                cell_hist[(below + bins) % bins] += magnitude * (1 - frac);
                cell_hist[(below + 1) % bins] += magnitude * frac;
            }
        }
        for (int by = 0; by < blocks_y; by++) {
            for (int bx = 0; bx < blocks_x; bx++) {
                std::vector<double> v;
                for (int j = 0; j < block; j++) {
                    for (int i = 0; i < block; i++) {
                        const double *cell_hist =
                            &hist[((size_t)(by + j) * cells_x + (bx + i)) * bins];
                        v.insert(v.end(), cell_hist, cell_hist + bins);
                    }
                }
                auto l2 = [&] {
                    double s = 0;
                    for (double e : v) s += e * e;
                    for (double &e : v) e /= std::sqrt(s + eps * eps);
                };
                if (norm == "l1" || norm == "l1sqrt") {
                    double s = 0;
                    for (double e : v) s += std::fabs(e);
                    for (double &e : v) e = norm == "l1" ? e / (s + eps) : std::sqrt(e / (s + eps));
                } else {
                    l2();
                    if (norm == "l2hys") {
                        for (double &e : v) e = std::min(e, 0.2);
                        l2();
                    }
                }
                for (int k = 0; k < per_block; k++)
                    out.at(n, (by * blocks_x + bx) * per_block + k) = v[k];
            }
        }
    }
    return out;
}

Tensor color_histogram(const Tensor &in, int bins, double low, double high) {
    Tensor out(Shape{{(int64_t)in.channels() * bins}}, in.batch);
    for (int n = 0; n < in.batch; n++) {
        for (int c = 0; c < in.channels(); c++) {
            for (int p = 0; p < in.pixels(); p++) {
                int b = (int)std::floor((in.at(n, c, p) - low) * bins / (high - low));
                b = std::clamp(b, 0, bins - 1);
                out.at(n, c * bins + b) += 1.0 / in.pixels();
            }
        }
    }
    return out;
}

Tensor flatten(const Tensor &in) {
    // NCHW is already row-major over (C, H, W) per sample: only the shape changes.
    Tensor out = in;
    out.shape = Shape{{in.shape.elements()}};
    return out;
}

Tensor add(const std::vector<const Tensor *> &in) {
    Tensor out = *in[0];
    for (size_t k = 1; k < in.size(); k++) {
        for (size_t i = 0; i < out.data.size(); i++) out.data[i] += in[k]->data[i];
    }
    return out;
}

Tensor concat(const std::vector<const Tensor *> &in) {
    Shape shape = in[0]->shape;
    shape.dims[0] = 0;
    for (const Tensor *t : in) shape.dims[0] += t->channels();
    Tensor out(shape, in[0]->batch);
    for (int n = 0; n < out.batch; n++) {
        int base = 0;
        for (const Tensor *t : in) {
            for (int c = 0; c < t->channels(); c++) {
                for (int p = 0; p < t->pixels(); p++) out.at(n, base + c, p) = t->at(n, c, p);
            }
            base += t->channels();
        }
    }
    return out;
}

Tensor sigmoid(const Tensor &in) {
    return map(in, [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
}

Tensor tanh(const Tensor &in) {
    return map(in, [](double x) { return std::tanh(x); });
}

Tensor relu(const Tensor &in) {
    return map(in, [](double x) { return x > 0 ? x : 0.0; });
}

Tensor leaky_relu(const Tensor &in, double alpha) {
    return map(in, [alpha](double x) { return x > 0 ? x : alpha * x; });
}

Tensor prelu(const Tensor &in, const float *slopes, int count) {
    Tensor out = in;
    for (int n = 0; n < in.batch; n++) {
        for (int c = 0; c < in.channels(); c++) {
            double a = slopes[count == 1 ? 0 : c];
            for (int p = 0; p < in.pixels(); p++) {
                double x = in.at(n, c, p);
                out.at(n, c, p) = x > 0 ? x : a * x;
            }
        }
    }
    return out;
}

Tensor elu(const Tensor &in, double alpha) {
    return map(in, [alpha](double x) { return x > 0 ? x : alpha * std::expm1(x); });
}

Tensor selu(const Tensor &in) {
    // Klambauer et al. 2017, the constants torch.nn.SELU uses.
    const double alpha = 1.6732632423543772848170429916717;
    const double scale = 1.0507009873554804934193349852946;
    return map(in, [=](double x) { return scale * (x > 0 ? x : alpha * std::expm1(x)); });
}

Tensor maxout(const Tensor &in, int pieces) {
    Shape shape = in.shape;
    shape.dims[0] /= pieces;
    Tensor out(shape, in.batch);
    for (int n = 0; n < in.batch; n++) {
        for (int c = 0; c < out.channels(); c++) {
            for (int p = 0; p < in.pixels(); p++) {
                double best = -std::numeric_limits<double>::infinity();
                for (int k = 0; k < pieces; k++) best = std::max(best, in.at(n, c * pieces + k, p));
                out.at(n, c, p) = best;
            }
        }
    }
    return out;
}

Tensor gelu(const Tensor &in, bool tanh_form) {
    if (tanh_form) {
        const double k = std::sqrt(2.0 / M_PI);
        return map(in, [k](double x) {
            return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
        });
    }
    return map(in, [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); });
}

Tensor batchnorm(const Tensor &in, bool train, double eps, const float *weight, const float *bias,
                 const float *running_mean, const float *running_var) {
    Tensor out = in;
    std::vector<double> xs;
    for (int c = 0; c < in.channels(); c++) {
        double mean, var;
        if (train) {
            xs.clear();
            for (int n = 0; n < in.batch; n++) {
                for (int p = 0; p < in.pixels(); p++) xs.push_back(in.at(n, c, p));
            }
            moments(xs, mean, var);
        } else {
            mean = running_mean[c];
            var = running_var[c];
        }
        double scale = weight ? weight[c] : 1.0, shift = bias ? bias[c] : 0.0;
        for (int n = 0; n < in.batch; n++) {
            for (int p = 0; p < in.pixels(); p++) {
                out.at(n, c, p) = (in.at(n, c, p) - mean) / std::sqrt(var + eps) * scale + shift;
            }
        }
    }
    return out;
}

Tensor layernorm(const Tensor &in, double eps, const float *weight, const float *bias) {
    Tensor out = in;
    size_t per_sample = (size_t)in.shape.elements();
    for (int n = 0; n < in.batch; n++) {
        std::vector<double> xs(in.data.begin() + n * per_sample,
                               in.data.begin() + (n + 1) * per_sample);
        double mean, var;
        moments(xs, mean, var);
        for (size_t i = 0; i < per_sample; i++) {
            double y = (xs[i] - mean) / std::sqrt(var + eps);
            if (weight)
                y = y * weight[i] + bias[i];  // weight[c, h, w] is row-major like the sample
            out.data[n * per_sample + i] = y;
        }
    }
    return out;
}

Tensor groupnorm(const Tensor &in, int groups, double eps, const float *weight, const float *bias) {
    Tensor out = in;
    int per_group = in.channels() / groups;
    std::vector<double> xs;
    for (int n = 0; n < in.batch; n++) {
        for (int g = 0; g < groups; g++) {
            xs.clear();
            for (int c = g * per_group; c < (g + 1) * per_group; c++) {
                for (int p = 0; p < in.pixels(); p++) xs.push_back(in.at(n, c, p));
            }
            double mean, var;
            moments(xs, mean, var);
            for (int c = g * per_group; c < (g + 1) * per_group; c++) {
                for (int p = 0; p < in.pixels(); p++) {
                    double y = (in.at(n, c, p) - mean) / std::sqrt(var + eps);
                    out.at(n, c, p) = weight ? y * weight[c] + bias[c] : y;
                }
            }
        }
    }
    return out;
}

Tensor dropout(const Tensor &in, bool train, double p, uint32_t rng_key, int node_id) {
    if (!train) return in;
    Tensor out = in;
    uint32_t key = random::bits(rng_key, (uint32_t)node_id);
    // p is a float attribute of the generated code; compare in float so the 24-bit uniform
    // lands on the same side of it.
    float threshold = (float)p;
    for (size_t i = 0; i < in.data.size(); i++) {
        bool keep = random::uniform(key, (uint32_t)i) >= threshold;
        out.data[i] = keep ? in.data[i] / (1.0 - p) : 0.0;
    }
    return out;
}

Tensor stochastic_depth(const Tensor &in, bool train, double p, bool row, uint32_t rng_key,
                        int node_id) {
    if (!train) return in;
    Tensor out = in;
    uint32_t key = random::bits(rng_key, (uint32_t)node_id);
    size_t per_sample = (size_t)in.shape.elements();
    for (int n = 0; n < in.batch; n++) {
        bool keep = random::uniform(key, row ? (uint32_t)n : 0u) >= (float)p;
        for (size_t i = 0; i < per_sample; i++) {
            size_t at = (size_t)n * per_sample + i;
            out.data[at] = keep ? in.data[at] / (1.0 - p) : 0.0;
        }
    }
    return out;
}

std::vector<double> dropconnect(const float *weight, size_t count, double p, uint32_t rng_key,
                                int node_id) {
    uint32_t key = random::bits(rng_key, (uint32_t)node_id);
    std::vector<double> out(count);
    for (size_t i = 0; i < count; i++) {
        bool keep = random::uniform(key, (uint32_t)i) >= (float)p;
        out[i] = keep ? weight[i] / (1.0 - p) : 0.0;
    }
    return out;
}

Tensor softmax(const Tensor &logits) {
    Tensor out = logits;
    int classes = logits.channels();
    for (int n = 0; n < logits.batch; n++) {
        double top = -std::numeric_limits<double>::infinity();
        for (int c = 0; c < classes; c++) top = std::max(top, logits.at(n, c));
        double total = 0;
        for (int c = 0; c < classes; c++) total += std::exp(logits.at(n, c) - top);
        for (int c = 0; c < classes; c++) out.at(n, c) = std::exp(logits.at(n, c) - top) / total;
    }
    return out;
}

Tensor apply(const Graph &, const ParamLayout &layout, const float *params, const Node &node,
             const std::vector<const Tensor *> &inputs, bool train, uint32_t rng_key) {
    auto param = [&](const char *suffix) -> const float * {
        const ParamEntry *e = layout.find(node.name + "." + suffix);
        return e ? params + e->offset : nullptr;
    };
    auto param_size = [&](const char *suffix) -> int {
        const ParamEntry *e = layout.find(node.name + "." + suffix);
        return e ? (int)e->size : 0;
    };
    const Attrs &a = node.attrs;
    auto i = [&](const char *name) { return (int)a.get_int(name); };
    const Tensor &x = *inputs.at(0);
    std::string op = node.op->name;
    // DropConnect: the training step's masked copy of the weight.
    std::vector<double> weight;
    const float *w = param("weight");
    if (w) weight.assign(w, w + param_size("weight"));
    if (train && a.has("dropconnect") && a.get_float("dropconnect") > 0) {
        weight = dropconnect(w, weight.size(), a.get_float("dropconnect"), rng_key, node.id);
    }
    if (op == "dense") return dense(x, i("units"), weight.data(), param("bias"));
    if (op == "conv2d") {
        return conv2d(x, i("filters"), i("kernel"), i("stride"), i("pad"), i("dilation"),
                      weight.data(), param("bias"));
    }
    if (op == "fractional_maxpool") {
        return fractional_maxpool(x, i("kernel"), (int)node.shape.dims[1], (int)node.shape.dims[2],
                                  train, rng_key, node.id);
    }
    if (op == "maxpool" || op == "avgpool") {
        int k = i("kernel"), s = a.has("stride") ? i("stride") : k;
        return op == "maxpool" ? maxpool(x, k, s, i("pad")) : avgpool(x, k, s, i("pad"));
    }
    if (op == "global_avgpool") return global_avgpool(x);
    if (op == "flatten") return flatten(x);
    if (op == "hog") return hog(x, i("cell"), i("block"), i("bins"), a.get_enum("norm"));
    if (op == "color_histogram") {
        return color_histogram(x, i("bins"), a.get_float("low"), a.get_float("high"));
    }
    if (op == "add") return add(inputs);
    if (op == "concat") return concat(inputs);
    if (op == "sigmoid") return sigmoid(x);
    if (op == "tanh") return tanh(x);
    if (op == "relu") return relu(x);
    if (op == "leaky_relu") return leaky_relu(x, a.get_float("alpha"));
    if (op == "prelu") return prelu(x, param("weight"), param_size("weight"));
    if (op == "elu") return elu(x, a.get_float("alpha"));
    if (op == "selu") return selu(x);
    if (op == "maxout") return maxout(x, i("pieces"));
    if (op == "gelu") return gelu(x, a.get_enum("approximate") == "tanh");
    if (op == "batchnorm") {
        return batchnorm(x, train, a.get_float("eps"), param("weight"), param("bias"),
                         param("running_mean"), param("running_var"));
    }
    if (op == "layernorm") return layernorm(x, a.get_float("eps"), param("weight"), param("bias"));
    if (op == "groupnorm") {
        return groupnorm(x, i("groups"), a.get_float("eps"), param("weight"), param("bias"));
    }
    if (op == "dropout") return dropout(x, train, a.get_float("p"), rng_key, node.id);
    if (op == "stochastic_depth") {
        return stochastic_depth(x, train, a.get_float("p"), a.get_enum("mode") == "row", rng_key,
                                node.id);
    }
    throw std::logic_error("reference: no reference for op " + op);
}

std::vector<Tensor> forward(const Graph &graph, const ParamLayout &layout, const float *params,
                            const float *images, int batch, bool train, uint32_t rng_key) {
    std::vector<Tensor> values;
    values.push_back(Tensor::from(graph.input, batch, images));
    for (size_t k = 1; k < graph.nodes.size(); k++) {
        const Node &node = graph.nodes[k];
        std::vector<const Tensor *> inputs;
        for (int id : node.inputs) inputs.push_back(&values[id]);
        values.push_back(apply(graph, layout, params, node, inputs, train, rng_key));
    }
    return values;
}

Tensor predict(const Graph &graph, const ParamLayout &layout, const float *params,
               const float *images, int batch) {
    return softmax(forward(graph, layout, params, images, batch, false, 0).back());
}

Neighbors knn(const std::vector<float> &queries, int count, const std::vector<float> &reference,
              const std::vector<int32_t> &labels, int features, int k, int classes,
              const std::string &distance, const std::string &vote) {
    const int samples = (int)labels.size();
    Neighbors out;
    for (int q = 0; q < count; q++) {
        const float *x = &queries[(size_t)q * features];
        std::vector<std::pair<double, int>> all;
        for (int r = 0; r < samples; r++) {
            const float *y = &reference[(size_t)r * features];
            double l1 = 0, l2 = 0, dot = 0, xx = 0, yy = 0;
            for (int f = 0; f < features; f++) {
                l1 += std::fabs((double)x[f] - y[f]);
                l2 += ((double)x[f] - y[f]) * ((double)x[f] - y[f]);
                dot += (double)x[f] * y[f];
                xx += (double)x[f] * x[f];
                yy += (double)y[f] * y[f];
            }
            double d = distance == "l1"   ? l1
                       : distance == "l2" ? std::sqrt(l2)
                       : xx > 0 && yy > 0 ? 1 - dot / std::sqrt(xx * yy)
                                          : 1.0;
            all.push_back({d, r});
        }
        std::stable_sort(all.begin(), all.end(),
                         [](const auto &a, const auto &b) { return a.first < b.first; });
        std::vector<double> votes(classes, 0.0);
        const bool exact = all[0].first == 0;
        double total = 0;
        for (int i = 0; i < k; i++) {
            out.index.push_back(all[i].second);
            out.distance.push_back(all[i].first);
            double w = vote == "majority" ? 1.0
                       : exact            ? (all[i].first == 0 ? 1.0 : 0.0)
                                          : 1.0 / all[i].first;
            votes[labels[all[i].second]] += w;
            total += w;
        }
        for (double v : votes) out.probs.push_back(v / total);
    }
    return out;
}

}  // namespace netc::reference
