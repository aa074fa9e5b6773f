// IDX files: a big-endian header (magic 00 00 <type> <rank>, then one uint32 per dimension)
// followed by the elements. netc reads unsigned-byte images (rank 3: count, rows, columns) and
// labels (rank 1: count).

#include "runtime/Dataset.h"
#include "runtime/Files.h"

#include <cstdio>

namespace netc::runtime {

namespace {

constexpr uint32_t idx_images_magic = 0x00000803;
constexpr uint32_t idx_labels_magic = 0x00000801;

uint32_t read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

std::string hex32(uint32_t v) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "0x%08x", v);
    return buffer;
}

std::string describe_magic(uint32_t magic) {
    if (magic == idx_images_magic) return "an IDX image file";
    if (magic == idx_labels_magic) return "an IDX label file";
    if ((magic >> 16) == 0) {
        const char *type = nullptr;
        switch ((magic >> 8) & 0xff) {
        case 0x08: type = "unsigned byte"; break;
        case 0x09: type = "signed byte"; break;
        case 0x0b: type = "short"; break;
        case 0x0c: type = "int"; break;
        case 0x0d: type = "float"; break;
        case 0x0e: type = "double"; break;
        }
        if (type) {
            return std::string("an IDX file of ") + type + " elements with " +
                   std::to_string(magic & 0xff) + " dimensions";
        }
    }
    return "not an IDX file";
}

/// The decompressed contents, with the header's magic checked. `rank` dimensions follow.
Result<FileContents> open_idx(const std::string &path, uint32_t expected_magic,
                              const char *expected_what) {
    auto contents = read_file_maybe_gzip(path);
    if (!contents) return contents;
    const std::vector<uint8_t> &bytes = contents->bytes;
    const size_t header = 4 + 4 * (expected_magic & 0xff);
    if (bytes.size() < 4) {
        return Result<FileContents>::error(path + ": truncated: " + std::to_string(bytes.size()) +
                                           " bytes, too short for an IDX header");
    }
    const uint32_t magic = read_be32(bytes.data());
    if (magic != expected_magic) {
        return Result<FileContents>::error(path + ": wrong magic number " + hex32(magic) + " (" +
                                           describe_magic(magic) + "): expected " +
                                           hex32(expected_magic) + ", " + expected_what);
    }
    if (bytes.size() < header) {
        return Result<FileContents>::error(path + ": truncated: the IDX header needs " +
                                           std::to_string(header) + " bytes, the file has " +
                                           std::to_string(bytes.size()));
    }
    return contents;
}

std::string cut_short_note(const FileContents &contents) {
    return contents.gzip_cut_short ? " (the gzip stream is cut short)" : "";
}

}  // namespace

Result<IdxImages> read_idx_images(const std::string &path) {
    auto contents = open_idx(path, idx_images_magic,
                             "an IDX image file (unsigned bytes, count x rows x columns)");
    if (!contents) return contents.status();
    const std::vector<uint8_t> &bytes = contents->bytes;
    const uint32_t count = read_be32(&bytes[4]);
    const uint32_t rows = read_be32(&bytes[8]);
    const uint32_t columns = read_be32(&bytes[12]);
    const std::string dims = std::to_string(count) + " images of " + std::to_string(rows) + "x" +
                             std::to_string(columns);
    if (count == 0) return Result<IdxImages>::error(path + ": holds no images (the header says 0)");
    if (rows == 0 || columns == 0 || rows > 65536 || columns > 65536 ||
        (uint64_t)rows * columns > (1u << 26)) {
        return Result<IdxImages>::error(path + ": implausible image size in the header: " + dims);
    }
    const uint64_t image_bytes = (uint64_t)rows * columns;
    const uint64_t data_bytes = bytes.size() - 16;
    const unsigned __int128 expected = (unsigned __int128)count * image_bytes;
    if (data_bytes < expected) {
        return Result<IdxImages>::error(path + ": truncated: header says " + dims +
                                        " but the file ends after " +
                                        std::to_string(data_bytes / image_bytes) + " images" +
                                        cut_short_note(contents.value()));
    }
    if (data_bytes > expected) {
        return Result<IdxImages>::error(
            path + ": " + std::to_string(data_bytes - (uint64_t)expected) +
            " unexpected bytes after the " + dims + " the header declares");
    }
    if (contents->gzip_cut_short) {
        return Result<IdxImages>::error(path +
                                        ": the gzip stream is cut short after the last image");
    }
    IdxImages images;
    images.count = count;
    images.height = (int)rows;
    images.width = (int)columns;
    images.pixels.assign(bytes.begin() + 16, bytes.end());
    return images;
}

Result<std::vector<uint8_t>> read_idx_labels(const std::string &path) {
    using R = Result<std::vector<uint8_t>>;
    auto contents = open_idx(path, idx_labels_magic, "an IDX label file (unsigned bytes, count)");
    if (!contents) return contents.status();
    const std::vector<uint8_t> &bytes = contents->bytes;
    const uint32_t count = read_be32(&bytes[4]);
    const uint64_t data_bytes = bytes.size() - 8;
    if (count == 0) return R::error(path + ": holds no labels (the header says 0)");
    if (data_bytes < count) {
        return R::error(path + ": truncated: header says " + std::to_string(count) +
                        " labels but the file ends after " + std::to_string(data_bytes) +
                        " labels" + cut_short_note(contents.value()));
    }
    if (data_bytes > count) {
        return R::error(path + ": " + std::to_string(data_bytes - count) +
                        " unexpected bytes after the " + std::to_string(count) +
                        " labels the header declares");
    }
    if (contents->gzip_cut_short) {
        return R::error(path + ": the gzip stream is cut short after the last label");
    }
    return std::vector<uint8_t>(bytes.begin() + 8, bytes.end());
}

Result<Dataset> read_idx_dataset(const std::string &images_path, const std::string &labels_path,
                                 const std::vector<std::string> &class_names) {
    auto images = read_idx_images(images_path);
    if (!images) return images.status();
    auto labels = read_idx_labels(labels_path);
    if (!labels) return labels.status();
    if ((int64_t)labels->size() != images->count) {
        return Result<Dataset>::error(labels_path + ": holds " + std::to_string(labels->size()) +
                                      " labels but " + images_path + " holds " +
                                      std::to_string(images->count) +
                                      " images: the two files must have the same count");
    }
    for (size_t i = 0; i < labels->size(); i++) {
        const uint8_t label = (*labels)[i];
        if (label >= class_names.size()) {
            return Result<Dataset>::error(labels_path + ": sample " + std::to_string(i) +
                                          " has label " + std::to_string(label) + ", expected 0.." +
                                          std::to_string((int)class_names.size() - 1));
        }
    }

    Dataset data;
    data.count = images->count;
    data.channels = 1;
    data.height = images->height;
    data.width = images->width;
    data.class_names = class_names;
    const std::vector<uint8_t> &pixels = images->pixels;
    data.images.resize(pixels.size());
    for (size_t i = 0; i < pixels.size(); i++) data.images[i] = (float)pixels[i] / 255.0f;
    data.labels.assign(labels->begin(), labels->end());
    data.sources.push_back({images_path, labels_path, 0, data.count, 0});
    return data;
}

const std::vector<std::string> &fashion_mnist_class_names() {
    static const std::vector<std::string> names = {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

Result<Dataset> load_fashion_mnist(const std::string &dir, DataSplit split) {
    const std::string prefix = split == DataSplit::Train ? "train" : "t10k";
    auto find = [&](const std::string &name) {
        const std::string gz = join_path(dir, name + ".gz");
        if (is_regular_file(gz)) return gz;
        const std::string raw = join_path(dir, name);
        if (is_regular_file(raw)) return raw;
        return std::string();
    };
    const std::string images = find(prefix + "-images-idx3-ubyte");
    const std::string labels = find(prefix + "-labels-idx1-ubyte");
    if (images.empty() || labels.empty()) {
        const std::string missing =
            images.empty() ? prefix + "-images-idx3-ubyte" : prefix + "-labels-idx1-ubyte";
        std::string hint;
        if (dir == fashion_mnist_default_dir)
            hint = " (install Debian's dataset-fashion-mnist package)";
        return Result<Dataset>::error(dir + ": " + missing + ".gz (or " + missing + ") is missing" +
                                      hint);
    }
    return read_idx_dataset(images, labels, fashion_mnist_class_names());
}

}  // namespace netc::runtime
