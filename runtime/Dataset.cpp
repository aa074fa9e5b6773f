#include "runtime/Dataset.h"

#include "runtime/Files.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace netc::runtime {

namespace {

std::string shape_string(int c, int h, int w) {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

/// The source run holding sample i.
const DataSource *source_of(const Dataset &data, int64_t i) {
    auto it = std::upper_bound(data.sources.begin(), data.sources.end(), i,
                               [](int64_t v, const DataSource &s) { return v < s.first; });
    if (it == data.sources.begin()) return nullptr;
    --it;
    if (i >= it->first + it->count) return nullptr;
    return &*it;
}

}  // namespace

const char *to_string(DataSplit split) { return split == DataSplit::Train ? "train" : "test"; }

std::string describe_sample(const Dataset &data, int64_t i, bool label) {
    const DataSource *source = source_of(data, i);
    if (!source) return "sample " + std::to_string(i);
    const std::string &file = label ? source->labels : source->images;
    if (source->count == 1 && source->offset == 0) return file;
    return file + ": sample " + std::to_string(source->offset + (i - source->first));
}

Status check_dataset(const Dataset &data, const DataSpec &spec) {
    const std::string where =
        data.sources.empty() ? std::string("data set") : data.sources[0].images;
    if (data.channels != spec.channels || data.height != spec.height || data.width != spec.width) {
        return Status::error(where + ": images are " +
                             shape_string(data.channels, data.height, data.width) +
                             " (channels x height x width) but the model's input is " +
                             shape_string(spec.channels, spec.height, spec.width));
    }
    if ((int64_t)data.images.size() != data.count * data.image_size() ||
        (int64_t)data.labels.size() != data.count) {
        return Status::error(where + ": the data set holds " + std::to_string(data.images.size()) +
                             " pixel values and " + std::to_string(data.labels.size()) +
                             " labels for " + std::to_string(data.count) + " images");
    }
    for (int64_t i = 0; i < data.count; i++) {
        const int32_t label = data.labels[(size_t)i];
        if (label >= 0 && label < spec.classes) continue;
        std::string name;
        if (label >= 0 && label < data.classes())
            name = " ('" + data.class_names[(size_t)label] + "')";
        return Status::error(describe_sample(data, i, true) + ": label " + std::to_string(label) +
                             name + " is out of range: the model has " +
                             std::to_string(spec.classes) + " classes (labels 0.." +
                             std::to_string(spec.classes - 1) + ")");
    }
    return Status();
}

void keep_first(Dataset &data, int64_t limit) {
    if (limit <= 0 || limit >= data.count) return;
    std::vector<int64_t> first((size_t)limit);
    std::iota(first.begin(), first.end(), 0);
    data = subset(data, first);
}

Dataset subset(const Dataset &data, const std::vector<int64_t> &indices) {
    Dataset out;
    out.count = (int64_t)indices.size();
    out.channels = data.channels;
    out.height = data.height;
    out.width = data.width;
    out.class_names = data.class_names;
    out.warnings = data.warnings;
    const int64_t size = data.image_size();
    out.images.resize((size_t)(out.count * size));
    out.labels.resize((size_t)out.count);
    for (int64_t j = 0; j < out.count; j++) {
        const int64_t i = indices[(size_t)j];
        std::memcpy(out.image(j), data.image(i), sizeof(float) * (size_t)size);
        out.labels[(size_t)j] = data.labels[(size_t)i];
        const DataSource *source = source_of(data, i);
        if (!source) continue;
        const int64_t offset = source->offset + (i - source->first);
        if (!out.sources.empty()) {
            DataSource &last = out.sources.back();
            if (last.images == source->images && last.labels == source->labels &&
                last.first + last.count == j && last.offset + last.count == offset) {
                last.count++;
                continue;
            }
        }
        out.sources.push_back({source->images, source->labels, j, 1, offset});
    }
    return out;
}

Result<Dataset> load_dataset(const std::string &dir, DataSplit split, const DataSpec &spec) {
    if (!is_directory(dir)) return Result<Dataset>::error(dir + ": not a directory");
    const char *idx_prefix = split == DataSplit::Train ? "train" : "t10k";
    const std::string idx_images = std::string(idx_prefix) + "-images-idx3-ubyte";
    const std::string cifar_file =
        split == DataSplit::Train ? "data_batch_1.bin" : "test_batch.bin";

    Result<Dataset> data = Result<Dataset>::error("");
    if (is_regular_file(join_path(dir, idx_images + ".gz")) ||
        is_regular_file(join_path(dir, idx_images))) {
        data = load_fashion_mnist(dir, split);
    } else if (is_regular_file(join_path(dir, cifar_file))) {
        data = load_cifar10(dir, split);
    } else if (is_directory(join_path(dir, to_string(split)))) {
        ImageFolderOptions options;
        options.channels = spec.channels;
        options.height = spec.height;
        options.width = spec.width;
        data = load_image_folder(join_path(dir, to_string(split)), options);
    } else {
        return Result<Dataset>::error(
            dir + ": no " + to_string(split) + " data found: expected IDX files (" + idx_images +
            ".gz and its labels), CIFAR-10 batches (" + cifar_file + ", ...) or an image folder (" +
            to_string(split) + "/<class>/<image>.png)");
    }
    if (!data) return data;
    if (Status status = check_dataset(data.value(), spec); !status) return status;
    return data;
}

}  // namespace netc::runtime
