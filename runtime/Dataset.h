#pragma once
// An in-memory labelled image set, and the readers that fill it from the formats netc trains on:
// IDX (MNIST, Fashion-MNIST; raw or gzip), CIFAR-10 binary batches, and a folder of PNG/JPEG
// images with one sub-folder per class. Every reader validates what it reads and returns an error
// naming the file and what is wrong; none prints or exits.
//
// Pixels are floats in [0, 1] (byte / 255), laid out NCHW like PyTorch. Normalization and
// augmentation happen later, per batch (runtime/Batcher.h, runtime/Augment.h).

#include "runtime/ImageDecode.h"
#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

/// Where a run of samples came from, so that errors found later can name the file.
struct DataSource {
    std::string images;  // the file the images of this run came from
    std::string labels;  // the file their labels came from (the image itself for an image folder)
    int64_t first = 0;   // the run is samples [first, first + count) of the data set
    int64_t count = 0;
    int64_t offset = 0;  // the index in the file of the run's first sample
};

struct Dataset {
    int64_t count = 0;
    int channels = 0, height = 0, width = 0;
    std::vector<float> images;             // (count, channels, height, width), in [0, 1]
    std::vector<int32_t> labels;           // (count), in [0, class_names.size())
    std::vector<std::string> class_names;  // (classes)
    std::vector<DataSource> sources;       // runs of samples in order, covering [0, count)
    std::vector<std::string> warnings;     // about the loading, for the caller to print
                                           // (an image folder's skipped files)

    int64_t image_size() const { return (int64_t)channels * height * width; }
    int classes() const { return (int)class_names.size(); }
    const float *image(int64_t i) const { return images.data() + i * image_size(); }
    float *image(int64_t i) { return images.data() + i * image_size(); }
};

/// What a model expects of its data: its input shape and number of classes.
struct DataSpec {
    int channels = 0, height = 0, width = 0;
    int classes = 0;
};

/// Checks a data set against a model: the image shape must equal the model's input shape and
/// every label must be below the model's number of classes. The error names the file the
/// offending images or label came from, e.g.
/// `data/t10k-labels-idx1-ubyte.gz: label 7 of sample 12 is out of range: the model has 5 classes`.
Status check_dataset(const Dataset &data, const DataSpec &spec);

/// "path: sample i" for messages: the file sample `i` came from and its index in that file.
/// `label` picks the labels file where images and labels come from different files.
std::string describe_sample(const Dataset &data, int64_t i, bool label = false);

/// The samples `indices` of `data`, in that order, as a new data set (sources are kept per run).
Dataset subset(const Dataset &data, const std::vector<int64_t> &indices);
/// Keeps only the first `limit` samples of `data` (--limit); none dropped when limit <= 0 or
/// the data holds no more.
void keep_first(Dataset &data, int64_t limit);

// ---- IDX (http://yann.lecun.com/exdb/mnist/), raw or gzip ----

/// The contents of an IDX image file (magic 0x00000803): unsigned bytes, (count, height, width).
struct IdxImages {
    int64_t count = 0;
    int height = 0, width = 0;
    std::vector<uint8_t> pixels;  // (count, height, width)
};

/// Reads an IDX image file, gzip-compressed or not (detected by the gzip magic 1f 8b). Validates
/// the magic, the dimensions, that the file holds every image its header promises and that
/// nothing follows them.
Result<IdxImages> read_idx_images(const std::string &path);

/// Reads an IDX label file (magic 0x00000801), gzip-compressed or not, with the same checks.
Result<std::vector<uint8_t>> read_idx_labels(const std::string &path);

/// An image file and its label file as one data set with one channel; the counts must agree.
/// Labels must be below `class_names.size()`.
Result<Dataset> read_idx_dataset(const std::string &images_path, const std::string &labels_path,
                                 const std::vector<std::string> &class_names);

enum class DataSplit { Train, Test };

const char *to_string(DataSplit split);

constexpr const char *fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

/// "T-shirt/top", "Trouser", ... "Ankle boot", in label order.
const std::vector<std::string> &fashion_mnist_class_names();

/// Fashion-MNIST (or MNIST-format) files in `dir`: `train-images-idx3-ubyte.gz` and
/// `train-labels-idx1-ubyte.gz` for Train, `t10k-*` for Test; the names without `.gz` are
/// accepted too (a raw file is used when the .gz one is absent).
Result<Dataset> load_fashion_mnist(const std::string &dir, DataSplit split);

// ---- CIFAR-10 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html) ----

/// "airplane", "automobile", ... "truck", in label order.
const std::vector<std::string> &cifar10_class_names();

/// CIFAR-10 binary batch files: records of 1 label byte then 3072 pixel bytes (the 32x32 red,
/// green and blue planes). Each file's size must be a whole number of records, and labels < 10.
Result<Dataset> read_cifar10_batches(const std::vector<std::string> &paths,
                                     const std::vector<std::string> &class_names);

/// `data_batch_1.bin` .. `data_batch_5.bin` (Train) or `test_batch.bin` (Test) in `dir`, with the
/// class names from `batches.meta.txt` when present (one per line, ten of them), else the
/// standard ten.
Result<Dataset> load_cifar10(const std::string &dir, DataSplit split);

// ---- a folder of PNG/JPEG images, one sub-folder per class ----

struct ImageFolderOptions {
    int channels = 0, height = 0, width = 0;  // every image must decode to this shape
    /// Channel counts are converted, not rejected: a grayscale image loaded for a 3-channel model
    /// has its gray value copied to R, G and B, and a colour image loaded for a 1-channel model
    /// becomes its luma (77 R + 150 G + 29 B) >> 8; alpha is dropped. False rejects
    /// an image whose channel count differs, with a message saying so. Height and width are never
    /// resized: an image of another size is an error.
    bool convert_channels = true;
};

/// `dir/<class>/<image>.{png,jpg,jpeg}` (case-insensitive extensions): class names are the
/// sub-folder names sorted bytewise, labels their positions; images within a class are sorted by
/// name. Other files (not .png, .jpg or .jpeg, in a class sub-folder or beside them) are skipped,
/// with a warning saying how many and naming the first (Dataset::warnings); a folder with no class
/// sub-folders or no images is an error.
Result<Dataset> load_image_folder(const std::string &dir, const ImageFolderOptions &options);

/// One PNG/JPEG file decoded to (channels, height, width) floats in [0, 1], converted as
/// `options` says: the input of `netc predict`.
Result<std::vector<float>> read_image(const std::string &path, const ImageFolderOptions &options);

/// The channel count (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA), height and width a PNG/JPEG file
/// declares, without decoding its pixels.
Result<ImageShape> read_image_shape(const std::string &path);

// ---- any of the above ----

/// The data set in `dir` in whichever format it holds: Fashion-MNIST/MNIST IDX files, CIFAR-10
/// batches, or an image folder (`dir/train/<class>/...` and `dir/test/<class>/...`). `spec` gives
/// the image shape an image folder must have; the result is checked against it with
/// check_dataset().
Result<Dataset> load_dataset(const std::string &dir, DataSplit split, const DataSpec &spec);

}  // namespace netc::runtime
