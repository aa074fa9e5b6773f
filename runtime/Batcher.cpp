#include "runtime/Batcher.h"

#include "runtime/Random.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <stdexcept>

namespace netc::runtime {

std::vector<int64_t> all_indices(int64_t count) {
    std::vector<int64_t> indices((size_t)std::max<int64_t>(count, 0));
    std::iota(indices.begin(), indices.end(), 0);
    return indices;
}

Normalization compute_normalization(const Dataset &data) {
    return compute_normalization(data, all_indices(data.count));
}

Normalization compute_normalization(const Dataset &data, const std::vector<int64_t> &indices) {
    const int channels = data.channels;
    const int64_t plane = (int64_t)data.height * data.width;
    std::vector<double> sum((size_t)channels, 0.0), sum_squares((size_t)channels, 0.0);
    int64_t images = 0;
    auto add = [&](int64_t i) {
        const float *image = data.image(i);
        for (int c = 0; c < channels; c++) {
            const float *p = image + c * plane;
            double s = 0, s2 = 0;
            for (int64_t k = 0; k < plane; k++) {
                s += p[k];
                s2 += (double)p[k] * p[k];
            }
            sum[(size_t)c] += s;
            sum_squares[(size_t)c] += s2;
        }
        images++;
    };
    for (int64_t i : indices) add(i);
    Normalization norm;
    const double n = (double)images * (double)plane;
    for (int c = 0; c < channels; c++) {
        const double mean = n > 0 ? sum[(size_t)c] / n : 0.0;
        const double variance =
            n > 0 ? std::max(0.0, sum_squares[(size_t)c] / n - mean * mean) : 0.0;
        const double stddev = std::sqrt(variance);
        norm.mean.push_back((float)mean);
        norm.stddev.push_back(stddev > 1e-12 ? (float)stddev : 1.0f);
    }
    return norm;
}

void normalize(const Normalization &norm, float *images, int64_t count, int channels, int height,
               int width) {
    const int64_t plane = (int64_t)height * width;
    for (int64_t i = 0; i < count; i++) {
        for (int c = 0; c < channels; c++) {
            float *p = images + (i * channels + c) * plane;
            const float mean = norm.mean[(size_t)c], scale = 1.0f / norm.stddev[(size_t)c];
            for (int64_t k = 0; k < plane; k++) p[k] = (p[k] - mean) * scale;
        }
    }
}

std::string format_floats(const std::vector<float> &values) {
    std::string out;
    for (float v : values) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.9g", (double)v);  // 9 digits round-trip a float
        if (!out.empty()) out += ",";
        out += buffer;
    }
    return out;
}

Result<std::vector<float>> parse_floats(const std::string &text, const std::string &what) {
    std::vector<float> values;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(',', start);
        if (end == std::string::npos) end = text.size();
        const std::string item = text.substr(start, end - start);
        char *stop = nullptr;
        errno = 0;
        const float v = std::strtof(item.c_str(), &stop);
        if (item.empty() || stop != item.c_str() + item.size() || errno == ERANGE ||
            !std::isfinite(v)) {
            return Result<std::vector<float>>::error(
                what + ": '" + item + "' is not a number (expected comma-separated floats in '" +
                text + "')");
        }
        values.push_back(v);
        start = end + 1;
    }
    return values;
}

void shuffle(std::vector<int64_t> &values, uint64_t seed, uint64_t epoch) {
    random::SplitMix64 rng(random::derive(random::derive(seed, random::ShuffleStream), epoch));
    for (size_t i = values.size(); i > 1; i--) {
        const size_t j = (size_t)rng.below(i);
        std::swap(values[i - 1], values[j]);
    }
}

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, uint64_t epoch) {
    std::vector<int64_t> order = all_indices(n);
    shuffle(order, seed, epoch);
    return order;
}

Result<ValidationSplit> split_validation(int64_t count, double fraction, uint64_t seed) {
    if (!(fraction >= 0.0 && fraction < 1.0)) {
        return Result<ValidationSplit>::error("validation fraction " + std::to_string(fraction) +
                                              " is out of range: expected 0 <= fraction < 1");
    }
    const int64_t held = (int64_t)std::llround(fraction * (double)count);
    if (held >= count && count > 0) {
        return Result<ValidationSplit>::error("validation fraction " + std::to_string(fraction) +
                                              " of " + std::to_string(count) +
                                              " samples leaves none to train on");
    }
    std::vector<int64_t> order = all_indices(count);
    random::SplitMix64 rng(random::derive(seed, random::SplitStream));
    for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[(size_t)rng.below(i)]);
    ValidationSplit split;
    split.validation.assign(order.begin(), order.begin() + held);
    split.train.assign(order.begin() + held, order.end());
    std::sort(split.validation.begin(), split.validation.end());
    std::sort(split.train.begin(), split.train.end());
    return split;
}

Result<std::vector<std::vector<int64_t>>> stratified_folds(const std::vector<int32_t> &labels,
                                                           int folds, uint64_t seed) {
    using R = Result<std::vector<std::vector<int64_t>>>;
    if (folds < 2)
        return R::error("cross-validation needs at least 2 folds, got " + std::to_string(folds));
    if ((size_t)folds > labels.size()) {
        return R::error(std::to_string(folds) + " folds of " + std::to_string(labels.size()) +
                        " samples: each fold needs one at least");
    }
    std::map<int32_t, std::vector<int64_t>> by_class;
    for (size_t i = 0; i < labels.size(); i++) by_class[labels[i]].push_back((int64_t)i);
    random::SplitMix64 rng(random::derive(seed, random::FoldStream));
    std::vector<std::vector<int64_t>> out((size_t)folds);
    size_t next = 0;
    for (auto &[label, members] : by_class) {
        for (size_t i = members.size(); i > 1; i--) {
            std::swap(members[i - 1], members[(size_t)rng.below(i)]);
        }
        for (int64_t index : members) {
            out[next].push_back(index);
            next = (next + 1) % (size_t)folds;
        }
    }
    for (std::vector<int64_t> &fold : out) std::sort(fold.begin(), fold.end());
    return out;
}

Batcher::Batcher(const Dataset &data, std::vector<int64_t> indices, BatcherOptions options)
    : data_(data), indices_(std::move(indices)), options_(std::move(options)) {
    if (options_.batch < 1) throw std::invalid_argument("Batcher: batch must be at least 1");
    if (options_.normalization && ((int)options_.normalization->mean.size() != data.channels ||
                                   (int)options_.normalization->stddev.size() != data.channels)) {
        throw std::invalid_argument("Batcher: normalization has " +
                                    std::to_string(options_.normalization->mean.size()) +
                                    " channels, the data " + std::to_string(data.channels));
    }
    for (int64_t i : indices_) {
        if (i < 0 || i >= data.count)
            throw std::invalid_argument("Batcher: sample index out of range");
    }
    start_epoch(0);
}

int64_t Batcher::batches_per_epoch() const {
    const int64_t n = samples(), b = options_.batch;
    return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> Batcher::epoch_order(int64_t epoch) const {
    std::vector<int64_t> order = indices_;
    if (options_.shuffle) shuffle(order, options_.seed, (uint64_t)epoch);
    return order;
}

void Batcher::start_epoch(int64_t epoch) {
    epoch_ = epoch;
    next_ = 0;
    order_ = epoch_order(epoch);
}

bool Batcher::next(Batch &batch) {
    if (next_ >= batches_per_epoch()) return false;
    get(next_++, batch);
    return true;
}

int64_t Batcher::batch_size(int64_t index) const {
    if (index < 0 || index >= batches_per_epoch())
        throw std::out_of_range("Batcher::batch_size: batch index out of range");
    return std::min(options_.batch, samples() - index * options_.batch);
}

void Batcher::get(int64_t index, Batch &batch) const { get(index, 0, batch_size(index), batch); }

void Batcher::get(int64_t index, int64_t first, int64_t count, Batch &batch) const {
    const int64_t whole = batch_size(index);
    if (first < 0 || count < 0 || first + count > whole)
        throw std::out_of_range("Batcher::get: shard outside the batch");
    const int64_t begin = index * options_.batch + first;
    const int64_t size = count;
    const int64_t image_size = data_.image_size();
    batch.epoch = epoch_;
    batch.index = index;
    batch.step = epoch_ * batches_per_epoch() + index;
    batch.size = size;
    batch.partial = whole < options_.batch;
    batch.images.resize((size_t)(size * image_size));
    batch.labels.resize((size_t)size);
    batch.samples.assign(order_.begin() + begin, order_.begin() + begin + size);
    for (int64_t j = 0; j < size; j++) {
        const int64_t i = batch.samples[(size_t)j];
        std::memcpy(batch.images.data() + j * image_size, data_.image(i),
                    sizeof(float) * (size_t)image_size);
        batch.labels[(size_t)j] = data_.labels[(size_t)i];
    }
    if (!options_.augment.empty()) {
        augment_batch(options_.augment, batch.images.data(), size, data_.channels, data_.height,
                      data_.width, options_.seed, batch.step, first);
    }
    if (options_.normalization) {
        normalize(*options_.normalization, batch.images.data(), size, data_.channels, data_.height,
                  data_.width);
    }
}

}  // namespace netc::runtime
