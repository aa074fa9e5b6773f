// IDX files: a big-endian header (magic 00 00 <type> <rank>, then one uint32 per dimension)
// followed by the elements. netc reads unsigned-byte images (rank 3: count, rows, columns) and
// labels (rank 1: count).

#include "runtime/Dataset.h"
#include "runtime/Files.h"
#include "runtime/Memory.h"

#include <cstdio>

namespace netc::runtime {

namespace {

constexpr uint32_t idx_images_magic = 0x00000803;
constexpr uint32_t idx_labels_magic = 0x00000801;
constexpr const char *images_what = "an IDX image file (unsigned bytes, count x rows x columns)";

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

/// The header's magic checked on `bytes`, the first bytes of the contents.
Status check_magic(const std::string &path, const std::vector<uint8_t> &bytes,
                   uint32_t expected_magic, const char *expected_what) {
    const size_t header = 4 + 4 * (expected_magic & 0xff);
    if (bytes.size() < 4) {
        return Status::error(path + ": truncated: " + std::to_string(bytes.size()) +
                             " bytes, too short for an IDX header");
    }
    const uint32_t magic = read_be32(bytes.data());
    if (magic != expected_magic) {
        return Status::error(path + ": wrong magic number " + hex32(magic) + " (" +
                             describe_magic(magic) + "): expected " + hex32(expected_magic) + ", " +
                             expected_what);
    }
    if (bytes.size() < header) {
        return Status::error(path + ": truncated: the IDX header needs " + std::to_string(header) +
                             " bytes, the file has " + std::to_string(bytes.size()));
    }
    return Status();
}

/// The decompressed contents, with the header's magic checked. `rank` dimensions follow.
/// Decompression stops after `limit` bytes (a gzip stream may not expand past what its header
/// declares).
Result<FileContents> open_idx(const std::string &path, uint32_t expected_magic,
                              const char *expected_what, size_t limit = SIZE_MAX) {
    auto contents = read_file_maybe_gzip(path, limit);
    if (!contents) return contents;
    if (Status status = check_magic(path, contents->bytes, expected_magic, expected_what); !status)
        return status;
    return contents;
}

std::string cut_short_note(const FileContents &contents) {
    return contents.gzip_cut_short ? " (the gzip stream is cut short)" : "";
}

}  // namespace

/// The header's count, rows and columns, checked for plausibility: from the first 16 bytes, so
/// that a file too large for memory is refused before it is read.
struct ImagesHeader {
    uint32_t count = 0, rows = 0, columns = 0;
    std::string dims;  // "3 images of 28x28"
};

Result<ImagesHeader> read_images_header(const std::string &path, const std::vector<uint8_t> &head) {
    if (Status status = check_magic(path, head, idx_images_magic, images_what); !status)
        return status;
    ImagesHeader h{read_be32(&head[4]), read_be32(&head[8]), read_be32(&head[12]), ""};
    h.dims = std::to_string(h.count) + " images of " + std::to_string(h.rows) + "x" +
             std::to_string(h.columns);
    if (h.count == 0)
        return Result<ImagesHeader>::error(path + ": holds no images (the header says 0)");
    if (h.rows == 0 || h.columns == 0 || h.rows > 65536 || h.columns > 65536 ||
        (uint64_t)h.rows * h.columns > (1u << 26)) {
        return Result<ImagesHeader>::error(path +
                                           ": implausible image size in the header: " + h.dims);
    }
    return h;
}

Result<IdxImages> read_idx_images(const std::string &path) {
    auto head = read_head_maybe_gzip(path, 16);
    if (!head) return head.status();
    auto h = read_images_header(path, *head);
    if (!h) return h.status();
    const uint64_t image_bytes = (uint64_t)h->rows * h->columns;
    const uint64_t expected = (uint64_t)h->count * image_bytes;  // < 2^58: no overflow
    // A data set holds the pixels as bytes while it converts them to floats: 5 bytes a pixel.
    if (Status fits = check_memory(path + ": the data set", (int64_t)(5 * expected),
                                   h->dims + " as floats, and their bytes",
                                   "train on fewer images (netc does not stream a data set)");
        !fits) {
        return fits;
    }
    // One byte more than the header declares shows that the file holds too much.
    auto contents = open_idx(path, idx_images_magic, images_what, 16 + expected + 1);
    if (!contents) return contents.status();
    std::vector<uint8_t> &bytes = contents->bytes;
    const uint64_t data_bytes = bytes.size() - 16;
    const std::string &dims = h->dims;
    if (data_bytes < expected) {
        return Result<IdxImages>::error(path + ": truncated: header says " + dims +
                                        " but the file ends after " +
                                        std::to_string(data_bytes / image_bytes) + " images" +
                                        cut_short_note(contents.value()));
    }
    if (data_bytes > expected) {
        return Result<IdxImages>::error(path + ": " +
                                        (contents->over_limit
                                             ? "more bytes than the " + dims +
                                                   " the header declares (the gzip stream "
                                                   "was read no further)"
                                             : std::to_string(data_bytes - expected) +
                                                   " unexpected bytes after the " + dims +
                                                   " the header declares"));
    }
    if (contents->gzip_cut_short) {
        return Result<IdxImages>::error(path +
                                        ": the gzip stream is cut short after the last image");
    }
    IdxImages images;
    images.count = h->count;
    images.height = (int)h->rows;
    images.width = (int)h->columns;
    bytes.erase(bytes.begin(), bytes.begin() + 16);  // in place: no second copy of the pixels
    images.pixels = std::move(bytes);
    return images;
}

Result<std::vector<uint8_t>> read_idx_labels(const std::string &path) {
    using R = Result<std::vector<uint8_t>>;
    constexpr const char *what = "an IDX label file (unsigned bytes, count)";
    auto head = read_head_maybe_gzip(path, 8);
    if (!head) return head.status();
    if (Status status = check_magic(path, *head, idx_labels_magic, what); !status) return status;
    const uint32_t count = read_be32(&(*head)[4]);
    if (count == 0) return R::error(path + ": holds no labels (the header says 0)");
    // The bytes, and the labels as int32 in the data set.
    if (Status fits = check_memory(path + ": the labels", 5 * (int64_t)count,
                                   std::to_string(count) + " labels");
        !fits) {
        return fits;
    }
    auto contents = open_idx(path, idx_labels_magic, what, 8 + (size_t)count + 1);
    if (!contents) return contents.status();
    std::vector<uint8_t> &bytes = contents->bytes;
    const uint64_t data_bytes = bytes.size() - 8;
    if (data_bytes < count) {
        return R::error(path + ": truncated: header says " + std::to_string(count) +
                        " labels but the file ends after " + std::to_string(data_bytes) +
                        " labels" + cut_short_note(contents.value()));
    }
    if (data_bytes > count) {
        return R::error(path + ": " +
                        (contents->over_limit
                             ? "more bytes than the " + std::to_string(count) +
                                   " labels the header declares (the gzip stream was read no "
                                   "further)"
                             : std::to_string(data_bytes - count) + " unexpected bytes after the " +
                                   std::to_string(count) + " labels the header declares"));
    }
    if (contents->gzip_cut_short) {
        return R::error(path + ": the gzip stream is cut short after the last label");
    }
    bytes.erase(bytes.begin(), bytes.begin() + 8);
    return std::move(bytes);
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
