// CIFAR-10 binary batches: records of 1 label byte and 3072 pixel bytes, the 32x32 red plane,
// then green, then blue, each row-major. That is already NCHW, so a record's pixels copy in order.

#include "runtime/Dataset.h"
#include "runtime/Files.h"
#include "runtime/Memory.h"

#include <algorithm>

namespace netc::runtime {

namespace {

constexpr int cifar_side = 32;
constexpr int64_t cifar_pixels = 3 * cifar_side * cifar_side;
constexpr int64_t cifar_record = 1 + cifar_pixels;

/// One class name per non-empty line, surrounding whitespace trimmed.
Result<std::vector<std::string>> read_class_names(const std::string &path, size_t expected) {
    auto bytes = read_file(path);
    if (!bytes) return bytes.status();
    std::vector<std::string> names;
    std::string line;
    auto flush = [&] {
        const size_t begin = line.find_first_not_of(" \t\r");
        if (begin != std::string::npos) {
            const size_t end = line.find_last_not_of(" \t\r");
            names.push_back(line.substr(begin, end - begin + 1));
        }
        line.clear();
    };
    for (uint8_t c : bytes.value()) {
        if (c == '\n')
            flush();
        else
            line.push_back((char)c);
    }
    flush();
    if (names.size() != expected) {
        return Result<std::vector<std::string>>::error(
            path + ": holds " + std::to_string(names.size()) + " class names, expected " +
            std::to_string(expected) + " (one per line)");
    }
    return names;
}

}  // namespace

const std::vector<std::string> &cifar10_class_names() {
    static const std::vector<std::string> names = {
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
    return names;
}

Result<Dataset> read_cifar10_batches(const std::vector<std::string> &paths,
                                     const std::vector<std::string> &class_names) {
    Dataset data;
    data.channels = 3;
    data.height = cifar_side;
    data.width = cifar_side;
    data.class_names = class_names;
    if (paths.empty()) return Result<Dataset>::error("CIFAR-10: no batch files given");
    // The records as floats, and one file's bytes at a time, before reading any of them.
    int64_t total_records = 0, largest = 0;
    for (const std::string &path : paths) {
        const int64_t size = file_size(path);
        total_records += std::max<int64_t>(size, 0) / cifar_record;
        largest = std::max(largest, size);
    }
    const std::string what = paths.size() == 1 ? paths[0] : paths[0] + " and the other batches";
    if (Status fits = check_memory(what + ": the data set",
                                   total_records * cifar_pixels * (int64_t)sizeof(float) + largest,
                                   std::to_string(total_records) + " images of 3x32x32 as floats",
                                   "train on fewer images (netc does not stream a data set)");
        !fits) {
        return fits;
    }
    for (const std::string &path : paths) {
        auto bytes = read_file(path);
        if (!bytes) return bytes.status();
        const int64_t size = (int64_t)bytes->size();
        if (size == 0)
            return Result<Dataset>::error(path + ": empty file, expected CIFAR-10 records");
        if (size % cifar_record != 0) {
            return Result<Dataset>::error(
                path + ": size " + std::to_string(size) + " bytes is not a whole number of " +
                std::to_string(cifar_record) + "-byte CIFAR-10 records (1 label byte + 3x32x32 " +
                "pixels): " + std::to_string(size / cifar_record) + " records and " +
                std::to_string(size % cifar_record) + " bytes left over");
        }
        const int64_t records = size / cifar_record;
        const int64_t first = data.count;
        data.images.resize((size_t)((first + records) * cifar_pixels));
        data.labels.resize((size_t)(first + records));
        for (int64_t r = 0; r < records; r++) {
            const uint8_t *record = bytes->data() + r * cifar_record;
            if (record[0] >= class_names.size()) {
                return Result<Dataset>::error(path + ": record " + std::to_string(r) +
                                              " has label " + std::to_string(record[0]) +
                                              ", expected 0.." +
                                              std::to_string((int)class_names.size() - 1));
            }
            data.labels[(size_t)(first + r)] = record[0];
            float *image = data.image(first + r);
            for (int64_t i = 0; i < cifar_pixels; i++) image[i] = (float)record[1 + i] / 255.0f;
        }
        data.count += records;
        data.sources.push_back({path, path, first, records, 0});
    }
    return data;
}

Result<Dataset> load_cifar10(const std::string &dir, DataSplit split) {
    std::vector<std::string> paths;
    if (split == DataSplit::Train) {
        for (int i = 1; i <= 5; i++)
            paths.push_back(join_path(dir, "data_batch_" + std::to_string(i) + ".bin"));
    } else {
        paths.push_back(join_path(dir, "test_batch.bin"));
    }
    for (const std::string &path : paths) {
        if (!is_regular_file(path)) {
            return Result<Dataset>::error(
                path + ": missing: a CIFAR-10 " + std::string(to_string(split)) + " set needs " +
                (split == DataSplit::Train ? "data_batch_1.bin .. data_batch_5.bin"
                                           : "test_batch.bin"));
        }
    }
    std::vector<std::string> names = cifar10_class_names();
    const std::string meta = join_path(dir, "batches.meta.txt");
    if (is_regular_file(meta)) {
        auto read = read_class_names(meta, names.size());
        if (!read) return read.status();
        names = std::move(read).value();
    }
    return read_cifar10_batches(paths, names);
}

}  // namespace netc::runtime
