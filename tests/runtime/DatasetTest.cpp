// The data set readers on small files written here, every bad-input case, and the real
// Fashion-MNIST test set when it is installed.

#include "runtime/Dataset.h"
#include "runtime/Batcher.h"
#include "runtime/Files.h"
#include "runtime/Memory.h"
#include "tests/runtime/TestFiles.h"

#include <doctest/doctest.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include <cmath>
#include <filesystem>

using namespace netc::runtime;
using netc::test::idx_images;
using netc::test::idx_labels;
using netc::test::TempDir;
using netc::test::write_bytes;
using netc::test::write_gzip;

namespace {

bool starts_with(const std::string &s, const std::string &prefix) {
    return s.rfind(prefix, 0) == 0;
}
bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Checks the data set holds the images idx_images(3, 2, 4) and labels {0, 9, 5}.
void check_small_idx(const Dataset &d) {
    CHECK(d.count == 3);
    CHECK(d.channels == 1);
    CHECK(d.height == 2);
    CHECK(d.width == 4);
    REQUIRE(d.images.size() == 24);
    for (int i = 0; i < 3; i++) {
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 4; x++) {
                CHECK(d.image(i)[y * 4 + x] == (float)((i * 7 + y * 3 + x) % 256) / 255.0f);
            }
        }
    }
    CHECK(d.labels == std::vector<int32_t>{0, 9, 5});
    CHECK(d.class_names == fashion_mnist_class_names());
}

/// A CIFAR-10 record: label, then R, G, B planes with pixel (c, p) = (seed + c * 50 + p) % 256.
std::vector<uint8_t> cifar_record(uint8_t label, int seed) {
    std::vector<uint8_t> out{label};
    for (int c = 0; c < 3; c++) {
        for (int p = 0; p < 1024; p++) out.push_back((uint8_t)((seed + c * 50 + p) % 256));
    }
    return out;
}

void write_cifar(const std::string &path, const std::vector<std::pair<uint8_t, int>> &records) {
    std::vector<uint8_t> bytes;
    for (const auto &[label, seed] : records) {
        const auto r = cifar_record(label, seed);
        bytes.insert(bytes.end(), r.begin(), r.end());
    }
    write_bytes(path, bytes);
}

/// A height x width PNG with `channels` channels, pixel (y, x, c) = (y * 40 + x * 10 + c * 3 +
/// base) % 256.
void write_png(const std::string &path, int height, int width, int channels, int base) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::vector<uint8_t> pixels;
    for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
            for (int c = 0; c < channels; c++)
                pixels.push_back((uint8_t)((y * 40 + x * 10 + c * 3 + base) % 256));
        }
    }
    REQUIRE(stbi_write_png(path.c_str(), width, height, channels, pixels.data(), width * channels));
}

float png_pixel(int y, int x, int c, int base) {
    return (float)((y * 40 + x * 10 + c * 3 + base) % 256) / 255.0f;
}

}  // namespace

TEST_CASE("IDX raw and gzip files read to the same data set") {
    TempDir dir;
    const auto images = idx_images(3, 2, 4);
    const auto labels = idx_labels({0, 9, 5});
    write_bytes(dir / "raw-images", images);
    write_bytes(dir / "raw-labels", labels);
    write_gzip(dir / "gz-images.gz", images);
    write_gzip(dir / "gz-labels.gz", labels);

    auto raw =
        read_idx_dataset(dir / "raw-images", dir / "raw-labels", fashion_mnist_class_names());
    REQUIRE_MESSAGE(raw.ok(), raw.message());
    check_small_idx(raw.value());
    REQUIRE(raw->sources.size() == 1);
    CHECK(raw->sources[0].images == dir / "raw-images");
    CHECK(raw->sources[0].labels == dir / "raw-labels");

    auto gz =
        read_idx_dataset(dir / "gz-images.gz", dir / "gz-labels.gz", fashion_mnist_class_names());
    REQUIRE_MESSAGE(gz.ok(), gz.message());
    check_small_idx(gz.value());

    // A gzip file of several members (as `cat a.gz b.gz` makes) decodes to their concatenation.
    TempDir parts;
    write_gzip(parts / "a.gz", std::vector<uint8_t>(images.begin(), images.begin() + 10));
    write_gzip(parts / "b.gz", std::vector<uint8_t>(images.begin() + 10, images.end()));
    auto a = netc::test::read_bytes(parts / "a.gz"), b = netc::test::read_bytes(parts / "b.gz");
    a.insert(a.end(), b.begin(), b.end());
    write_bytes(dir / "multi.gz", a);
    auto multi = read_idx_images(dir / "multi.gz");
    REQUIRE_MESSAGE(multi.ok(), multi.message());
    CHECK(multi->count == 3);
    CHECK(multi->pixels == std::vector<uint8_t>(images.begin() + 16, images.end()));
}

TEST_CASE("IDX errors name the file and what is wrong") {
    TempDir dir;
    const std::string p = dir / "f";

    SUBCASE("truncated images") {
        auto bytes = idx_images(5, 2, 4);
        bytes.resize(16 + 3 * 8 + 5);  // three whole images and part of the fourth
        write_bytes(p, bytes);
        CHECK(read_idx_images(p).message() ==
              p + ": truncated: header says 5 images of 2x4 but the file ends after 3 images");
    }
    SUBCASE("truncated labels") {
        auto bytes = idx_labels({1, 2, 3, 4});
        bytes.pop_back();
        write_bytes(p, bytes);
        CHECK(read_idx_labels(p).message() ==
              p + ": truncated: header says 4 labels but the file ends after 3 labels");
    }
    SUBCASE("truncated header") {
        auto bytes = idx_images(1, 2, 4);
        bytes.resize(6);
        write_bytes(p, bytes);
        CHECK(read_idx_images(p).message() ==
              p + ": truncated: the IDX header needs 16 bytes, the file has 6");
        write_bytes(p, {0, 0});
        CHECK(read_idx_images(p).message() ==
              p + ": truncated: 2 bytes, too short for an IDX header");
    }
    SUBCASE("truncated gzip stream") {
        write_gzip(p, idx_images(50, 8, 8));
        auto gz = netc::test::read_bytes(p);
        gz.resize(gz.size() / 2);
        write_bytes(p, gz);
        const std::string message = read_idx_images(p).message();
        CHECK_MESSAGE(
            starts_with(message,
                        p + ": truncated: header says 50 images of 8x8 but the file ends after "),
            message);
        CHECK_MESSAGE(ends_with(message, " images (the gzip stream is cut short)"), message);
    }
    SUBCASE("gzip stream cut after the last image") {
        write_gzip(p, idx_labels({1, 2, 3}));
        auto gz = netc::test::read_bytes(p);
        gz.resize(gz.size() - 4);  // the gzip trailer's length field
        write_bytes(p, gz);
        CHECK(read_idx_labels(p).message() ==
              p + ": the gzip stream is cut short after the last label");
    }
    SUBCASE("corrupt gzip data") {
        write_gzip(p, idx_images(50, 8, 8));
        auto gz = netc::test::read_bytes(p);
        for (size_t i = 20; i < 40; i++) gz[i] ^= 0x5a;
        write_bytes(p, gz);
        const std::string message = read_idx_images(p).message();
        CHECK_MESSAGE(starts_with(message, p + ": corrupt gzip data (zlib: "), message);
    }
    SUBCASE("wrong magic") {
        write_bytes(p, idx_labels({1, 2}));
        CHECK(
            read_idx_images(p).message() ==
            p + ": wrong magic number 0x00000801 (an IDX label file): expected 0x00000803, an IDX "
                "image file (unsigned bytes, count x rows x columns)");
        write_bytes(p, idx_images(1, 2, 2));
        CHECK(
            read_idx_labels(p).message() ==
            p + ": wrong magic number 0x00000803 (an IDX image file): expected 0x00000801, an IDX "
                "label file (unsigned bytes, count)");
        auto bytes = idx_images(1, 2, 2);
        bytes[0] = 0x12;
        write_bytes(p, bytes);
        CHECK(read_idx_images(p).message() ==
              p + ": wrong magic number 0x12000803 (not an IDX file): expected 0x00000803, an IDX "
                  "image file (unsigned bytes, count x rows x columns)");
        bytes[0] = 0;
        bytes[2] = 0x0d;  // float elements
        write_bytes(p, bytes);
        CHECK(read_idx_images(p).message() ==
              p + ": wrong magic number 0x00000d03 (an IDX file of float elements with 3 "
                  "dimensions): expected 0x00000803, an IDX image file (unsigned bytes, count x "
                  "rows x columns)");
    }
    SUBCASE("trailing garbage") {
        auto bytes = idx_images(3, 2, 4);
        bytes.insert(bytes.end(), {1, 2, 3});
        write_bytes(p, bytes);
        CHECK(read_idx_images(p).message() ==
              p + ": 3 unexpected bytes after the 3 images of 2x4 the header declares");
        auto labels = idx_labels({1, 2});
        labels.push_back(0);
        write_bytes(p, labels);
        CHECK(read_idx_labels(p).message() ==
              p + ": 1 unexpected bytes after the 2 labels the header declares");
    }
    SUBCASE("bad dimensions") {
        write_bytes(p, idx_images(0, 2, 4));
        CHECK(read_idx_images(p).message() == p + ": holds no images (the header says 0)");
        write_bytes(p, idx_images(1, 0, 4));
        CHECK(read_idx_images(p).message() ==
              p + ": implausible image size in the header: 1 images of 0x4");
    }
    SUBCASE("missing file") {
        CHECK(read_idx_images(dir / "nope").message() ==
              dir / "nope" + ": cannot open: No such file or directory");
    }
}

TEST_CASE("a data set larger than memory is refused before it is read") {
    TempDir dir;
    const std::string p = dir / "f";
    // 40,000 images of 1024x1024: 39 GiB of bytes, 195 GiB to load as floats.
    std::vector<uint8_t> header;
    netc::test::put_be32(header, 0x00000803);
    netc::test::put_be32(header, 40000);
    netc::test::put_be32(header, 1024);
    netc::test::put_be32(header, 1024);
    const int64_t need = 5 * int64_t(40000) * 1024 * 1024;
    if (available_memory() > need) {
        MESSAGE("skipped: this machine has more than 195 GiB available");
        return;
    }
    const std::string expected = ": the data set needs 195.3 GiB of memory (40000 images of "
                                 "1024x1024 as floats, and their bytes), but ";
    SUBCASE("a raw file (sparse: nothing is written but the header)") {
        write_bytes(p, header);
        std::filesystem::resize_file(p, 16 + uint64_t(40000) * 1024 * 1024);
        const std::string message = read_idx_images(p).message();
        CHECK_MESSAGE(starts_with(message, p + expected), message);
        CHECK_MESSAGE(ends_with(message, " is available; train on fewer images (netc does not "
                                         "stream a data set)"),
                      message);
    }
    SUBCASE("a gzip file, from its header alone") {
        write_gzip(p, header);
        const std::string message = read_idx_images(p).message();
        CHECK_MESSAGE(starts_with(message, p + expected), message);
    }
}

TEST_CASE("a gzip stream cannot expand past what its header declares") {
    TempDir dir;
    const std::string p = dir / "f";
    auto images = idx_images(2, 2, 2);
    images.resize(images.size() + (10 << 20));  // 10 MiB of zeros: a few KiB of gzip
    write_gzip(p, images);
    CHECK(read_idx_images(p).message() ==
          p + ": more bytes than the 2 images of 2x2 the header declares (the gzip stream was "
              "read no further)");
    auto labels = idx_labels({1, 2});
    labels.resize(labels.size() + (10 << 20));
    write_gzip(p, labels);
    CHECK(read_idx_labels(p).message() ==
          p + ": more bytes than the 2 labels the header declares (the gzip stream was read no "
              "further)");
}

TEST_CASE("IDX image and label files must agree") {
    TempDir dir;
    write_bytes(dir / "images", idx_images(3, 2, 4));
    SUBCASE("count mismatch") {
        write_bytes(dir / "labels", idx_labels({1, 2, 3, 4}));
        CHECK(read_idx_dataset(dir / "images", dir / "labels", fashion_mnist_class_names())
                  .message() == dir / "labels" + ": holds 4 labels but " + dir / "images" +
                                    " holds 3 images: the two files must have the same count");
    }
    SUBCASE("label out of range") {
        write_bytes(dir / "labels", idx_labels({1, 2, 10}));
        CHECK(read_idx_dataset(dir / "images", dir / "labels", fashion_mnist_class_names())
                  .message() == dir / "labels" + ": sample 2 has label 10, expected 0..9");
    }
}

TEST_CASE("Fashion-MNIST directory: .gz or raw names") {
    TempDir dir;
    write_gzip(dir / "t10k-images-idx3-ubyte.gz", idx_images(3, 2, 4));
    write_bytes(dir / "t10k-labels-idx1-ubyte", idx_labels({0, 9, 5}));
    auto test = load_fashion_mnist(dir.path(), DataSplit::Test);
    REQUIRE_MESSAGE(test.ok(), test.message());
    check_small_idx(test.value());
    CHECK(test->sources[0].images == dir / "t10k-images-idx3-ubyte.gz");
    CHECK(test->sources[0].labels == dir / "t10k-labels-idx1-ubyte");

    CHECK(load_fashion_mnist(dir.path(), DataSplit::Train).message() ==
          dir.path() + ": train-images-idx3-ubyte.gz (or train-images-idx3-ubyte) is missing");

    auto found = load_dataset(dir.path(), DataSplit::Test, {1, 2, 4, 10});
    REQUIRE_MESSAGE(found.ok(), found.message());
    CHECK(found->count == 3);
    CHECK(load_dataset(dir.path(), DataSplit::Test, {1, 28, 28, 10}).message() ==
          dir / "t10k-images-idx3-ubyte.gz" +
              ": images are 1x2x4 (channels x height x width) but the model's input is 1x28x28");
}

TEST_CASE("the real Fashion-MNIST test set") {
    if (!std::filesystem::exists(std::string(fashion_mnist_default_dir) +
                                 "/t10k-images-idx3-ubyte.gz")) {
        MESSAGE("skipped: " << fashion_mnist_default_dir
                            << " is absent (Debian's dataset-fashion-mnist)");
        return;
    }
    auto test = load_fashion_mnist(fashion_mnist_default_dir, DataSplit::Test);
    REQUIRE_MESSAGE(test.ok(), test.message());
    const Dataset &d = test.value();
    CHECK(d.count == 10000);
    CHECK(d.channels == 1);
    CHECK(d.height == 28);
    CHECK(d.width == 28);
    CHECK(d.images.size() == 10000u * 784);
    // The first five test labels: Ankle boot, Pullover, Trouser, Trouser, Shirt.
    CHECK(std::vector<int32_t>(d.labels.begin(), d.labels.begin() + 5) ==
          std::vector<int32_t>{9, 2, 1, 1, 6});
    std::vector<int> per_class(10, 0);
    for (int32_t label : d.labels) {
        REQUIRE(label >= 0);
        REQUIRE(label < 10);
        per_class[(size_t)label]++;
    }
    CHECK(per_class == std::vector<int>(10, 1000));
    CHECK(check_dataset(d, {1, 28, 28, 10}).ok());
    CHECK(check_dataset(d, {1, 28, 28, 9}).message() ==
          std::string(fashion_mnist_default_dir) +
              "/t10k-labels-idx1-ubyte.gz: sample 0: label 9 ('Ankle boot') is out of range: the "
              "model has 9 classes (labels 0..8)");
    // Mean and std of the test set's pixels, computed independently with Python's gzip module.
    const Normalization norm = compute_normalization(d);
    CHECK(norm.mean[0] == doctest::Approx(0.28684928).epsilon(1e-6));
    CHECK(norm.stddev[0] == doctest::Approx(0.35244415).epsilon(1e-6));
}

TEST_CASE("CIFAR-10 binary batches") {
    TempDir dir;
    for (int b = 1; b <= 5; b++) {
        write_cifar(dir / ("data_batch_" + std::to_string(b) + ".bin"),
                    {{(uint8_t)b, b}, {(uint8_t)(b + 4), 100 + b}});
    }
    write_cifar(dir / "test_batch.bin", {{3, 7}, {0, 8}, {9, 9}});

    auto train = load_cifar10(dir.path(), DataSplit::Train);
    REQUIRE_MESSAGE(train.ok(), train.message());
    const Dataset &d = train.value();
    CHECK(d.count == 10);
    CHECK(d.channels == 3);
    CHECK(d.height == 32);
    CHECK(d.width == 32);
    CHECK(d.labels == std::vector<int32_t>{1, 5, 2, 6, 3, 7, 4, 8, 5, 9});
    CHECK(d.class_names == cifar10_class_names());
    CHECK(d.class_names[0] == "airplane");
    // Record 1 of data_batch_1.bin is sample 1; its R, G, B planes are channels 0, 1, 2.
    for (int c = 0; c < 3; c++) {
        for (int p : {0, 1, 31, 32, 1023})
            CHECK(d.image(1)[c * 1024 + p] == (float)((101 + c * 50 + p) % 256) / 255.0f);
    }
    REQUIRE(d.sources.size() == 5);
    CHECK(d.sources[2].images == dir / "data_batch_3.bin");
    CHECK(d.sources[2].first == 4);
    CHECK(describe_sample(d, 5) == dir / "data_batch_3.bin" + ": sample 1");

    auto test = load_cifar10(dir.path(), DataSplit::Test);
    REQUIRE_MESSAGE(test.ok(), test.message());
    CHECK(test->labels == std::vector<int32_t>{3, 0, 9});

    // A model with fewer classes: the message names the file and the record in it.
    CHECK(
        check_dataset(d, {3, 32, 32, 6}).message() ==
        dir / "data_batch_2.bin" +
            ": sample 1: label 6 ('frog') is out of range: the model has 6 classes (labels 0..5)");
    CHECK(check_dataset(d, {1, 28, 28, 10}).message() ==
          dir / "data_batch_1.bin" +
              ": images are 3x32x32 (channels x height x width) but the model's input is 1x28x28");

    // Class names from batches.meta.txt (blank lines and surrounding spaces ignored).
    write_bytes(dir / "batches.meta.txt", {});
    {
        std::string meta = "a\nb\nc\nd\ne\nf\ng\nh\ni\n  j  \n\n\n";
        write_bytes(dir / "batches.meta.txt", std::vector<uint8_t>(meta.begin(), meta.end()));
    }
    auto named = load_cifar10(dir.path(), DataSplit::Test);
    REQUIRE_MESSAGE(named.ok(), named.message());
    CHECK(named->class_names ==
          std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"});
    {
        std::string meta = "a\nb\n";
        write_bytes(dir / "batches.meta.txt", std::vector<uint8_t>(meta.begin(), meta.end()));
    }
    CHECK(load_cifar10(dir.path(), DataSplit::Test).message() ==
          dir / "batches.meta.txt" + ": holds 2 class names, expected 10 (one per line)");

    auto found = load_dataset(dir.path(), DataSplit::Train, {3, 32, 32, 10});
    CHECK(!found.ok());  // the bad batches.meta.txt above
}

TEST_CASE("CIFAR-10 errors") {
    TempDir dir;
    const std::string p = dir / "data_batch_1.bin";
    SUBCASE("size not a whole number of records") {
        auto bytes = cifar_record(1, 0);
        bytes.insert(bytes.end(), {1, 2});
        write_bytes(p, bytes);
        CHECK(read_cifar10_batches({p}, cifar10_class_names()).message() ==
              p + ": size 3075 bytes is not a whole number of 3073-byte CIFAR-10 records (1 label "
                  "byte + 3x32x32 pixels): 1 records and 2 bytes left over");
    }
    SUBCASE("label out of range") {
        write_cifar(p, {{1, 0}, {10, 0}});
        CHECK(read_cifar10_batches({p}, cifar10_class_names()).message() ==
              p + ": record 1 has label 10, expected 0..9");
    }
    SUBCASE("empty file") {
        write_bytes(p, {});
        CHECK(read_cifar10_batches({p}, cifar10_class_names()).message() ==
              p + ": empty file, expected CIFAR-10 records");
    }
    SUBCASE("a batch is missing") {
        write_cifar(p, {{1, 0}});
        write_cifar(dir / "data_batch_2.bin", {{1, 0}});
        CHECK(load_cifar10(dir.path(), DataSplit::Train).message() ==
              dir / "data_batch_3.bin" +
                  ": missing: a CIFAR-10 train set needs data_batch_1.bin .. data_batch_5.bin");
    }
}

TEST_CASE("image folder: one sub-folder per class") {
    TempDir dir;
    const std::string root = dir / "train";
    write_png(root + "/dog/b.png", 3, 4, 3, 0);
    write_png(root + "/dog/a.PNG", 3, 4, 3, 100);
    write_png(root + "/cat/z.png", 3, 4, 1, 50);  // grayscale
    write_bytes(root + "/cat/notes.txt", {'h', 'i'});
    std::filesystem::create_directories(root + "/empty");

    ImageFolderOptions rgb{3, 3, 4};
    auto data = load_image_folder(root, rgb);
    REQUIRE_MESSAGE(data.ok(), data.message());
    const Dataset &d = data.value();
    CHECK(d.class_names == std::vector<std::string>{"cat", "dog", "empty"});
    CHECK(d.count == 3);
    CHECK(d.labels == std::vector<int32_t>{0, 1, 1});
    CHECK(d.sources[0].images == root + "/cat/z.png");
    CHECK(d.sources[1].images == root + "/dog/a.PNG");
    CHECK(d.sources[2].images == root + "/dog/b.png");
    // The file that is not an image is skipped, and said so.
    CHECK(d.warnings == std::vector<std::string>{
                            root + ": skipped 1 file that is not .png, .jpg or .jpeg, the first " +
                            root + "/cat/notes.txt"});
    // NCHW: channel c of pixel (y, x) of dog/a.PNG.
    for (int c = 0; c < 3; c++) {
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 4; x++)
                CHECK(d.image(1)[c * 12 + y * 4 + x] == png_pixel(y, x, c, 100));
        }
    }
    // Grayscale is replicated to R, G and B.
    for (int c = 0; c < 3; c++) CHECK(d.image(0)[c * 12 + 5] == png_pixel(1, 1, 0, 50));

    // Colour to one channel is stb_image's luma: (77 R + 150 G + 29 B) >> 8.
    auto gray = load_image_folder(root, {1, 3, 4});
    REQUIRE_MESSAGE(gray.ok(), gray.message());
    const int r = 40 + 10 + 100, g = r + 3, b = r + 6;  // pixel (1, 1) of dog/a.PNG
    CHECK(gray->image(1)[5] == (float)((r * 77 + g * 150 + b * 29) >> 8) / 255.0f);

    // Without conversion a channel mismatch is an error.
    ImageFolderOptions strict{3, 3, 4};
    strict.convert_channels = false;
    CHECK(load_image_folder(root, strict).message() ==
          root + "/cat/z.png: image has 1 channel (grayscale) but 3 channels (RGB) are expected "
                 "(channel conversion is off)");

    // Labels against the model name the image file.
    CHECK(check_dataset(d, {3, 3, 4, 1}).message() ==
          root +
              "/dog/a.PNG: label 1 ('dog') is out of range: the model has 1 classes (labels 0..0)");

    // load_dataset finds dir/train.
    auto found = load_dataset(dir.path(), DataSplit::Train, {3, 3, 4, 3});
    REQUIRE_MESSAGE(found.ok(), found.message());
    CHECK(found->count == 3);
    CHECK(load_dataset(dir.path(), DataSplit::Test, {3, 3, 4, 3}).message() ==
          dir.path() + ": no test data found: expected IDX files (t10k-images-idx3-ubyte.gz and "
                       "its labels), CIFAR-10 batches (test_batch.bin, ...) or an image folder "
                       "(test/<class>/<image>.png)");
}

TEST_CASE("image folder: files that are not images are counted, the first named") {
    TempDir dir;
    const std::string root = dir / "train";
    write_png(root + "/cat/a.png", 2, 2, 1, 0);
    write_bytes(root + "/README", {'x'});
    write_bytes(root + "/cat/b.gif", {'x'});
    write_bytes(root + "/cat/c.txt", {'x'});
    auto data = load_dataset(dir.path(), DataSplit::Train, {1, 2, 2, 1});
    REQUIRE_MESSAGE(data.ok(), data.message());
    CHECK(data->count == 1);
    CHECK(data->warnings == std::vector<std::string>{root +
                                                     ": skipped 3 files that are not .png, .jpg or "
                                                     ".jpeg, the first " +
                                                     root + "/README"});
    // A subset (netc train --limit) keeps them.
    CHECK(subset(*data, {0}).warnings == data->warnings);
    // A folder of images only has nothing to say.
    std::filesystem::remove(root + "/README");
    std::filesystem::remove(root + "/cat/b.gif");
    std::filesystem::remove(root + "/cat/c.txt");
    CHECK(load_image_folder(root, {1, 2, 2})->warnings.empty());
}

TEST_CASE("image folder errors") {
    TempDir dir;
    SUBCASE("image of the wrong size") {
        write_png(dir / "a/x.png", 5, 4, 3, 0);
        CHECK(load_image_folder(dir.path(), {3, 3, 4}).message() ==
              dir / "a/x.png" +
                  ": image is 5x4 (height x width) but 3x4 is expected; images are not resized");
        CHECK(read_image(dir / "a/x.png", {3, 5, 5}).message() ==
              dir / "a/x.png" +
                  ": image is 5x4 (height x width) but 5x5 is expected; images are not resized");
    }
    SUBCASE("not an image") {
        write_bytes(dir / "a/x.png", {'n', 'o', 't', ' ', 'p', 'n', 'g'});
        CHECK(load_image_folder(dir.path(), {3, 3, 4}).message() ==
              dir / "a/x.png" +
                  ": cannot decode as PNG or JPEG: it starts with neither PNG's signature (89 50 "
                  "4E 47 0D 0A 1A 0A) nor JPEG's start of image (FF D8 FF)");
    }
    SUBCASE("a damaged PNG is refused, not decoded in part") {
        write_png(dir / "a/x.png", 3, 4, 3, 0);
        std::vector<uint8_t> bytes = read_file(dir / "a/x.png").value();
        SUBCASE("truncated") {
            bytes.resize(bytes.size() - 20);  // into the image data: IEND and IDAT's end are lost
            write_bytes(dir / "a/x.png", bytes);
            CHECK(read_image(dir / "a/x.png", {3, 3, 4}).message() ==
                  dir / "a/x.png" +
                      ": cannot decode as PNG or JPEG: PNG: the file ends inside the image");
        }
        SUBCASE("a flipped bit in the image data") {
            bytes[bytes.size() - 16] ^= 1;  // IDAT's checksum no longer matches
            write_bytes(dir / "a/x.png", bytes);
            const std::string message = read_image(dir / "a/x.png", {3, 3, 4}).message();
            CHECK_MESSAGE(
                starts_with(message, dir / "a/x.png" + ": cannot decode as PNG or JPEG: PNG: "),
                message);
        }
    }
    SUBCASE("no class folders") {
        CHECK(load_image_folder(dir.path(), {3, 3, 4}).message() ==
              dir.path() + ": has no class sub-folders (expected " + dir.path() +
                  "/<class>/<image>.png)");
    }
    SUBCASE("no images") {
        std::filesystem::create_directories(dir / "a");
        CHECK(load_image_folder(dir.path(), {3, 3, 4}).message() ==
              dir.path() + ": its class sub-folders hold no .png, .jpg or .jpeg files");
    }
    SUBCASE("JPEG decodes") {
        std::vector<uint8_t> pixels(8 * 8 * 3, 200);
        std::filesystem::create_directories(dir / "a");
        REQUIRE(stbi_write_jpg((dir / "a/x.jpg").c_str(), 8, 8, 3, pixels.data(), 95));
        auto image = read_image(dir / "a/x.jpg", {3, 8, 8});
        REQUIRE_MESSAGE(image.ok(), image.message());
        for (float v : image.value()) CHECK(std::fabs(v - 200.0f / 255.0f) < 3.0f / 255.0f);
        CHECK(read_image_shape(dir / "a/x.jpg").value().channels == 3);

        // Cut short, the decoder's warning is an error: no gray rows where the data ran out.
        std::vector<uint8_t> bytes = read_file(dir / "a/x.jpg").value();
        bytes.resize(bytes.size() / 2);
        write_bytes(dir / "a/x.jpg", bytes);
        const std::string message = read_image(dir / "a/x.jpg", {3, 8, 8}).message();
        CHECK_MESSAGE(
            starts_with(message, dir / "a/x.jpg" + ": cannot decode as PNG or JPEG: JPEG: "),
            message);
    }
}

TEST_CASE("channel conversion, every count to every count") {
    // One pixel per source kind: gray 90; gray 90 with alpha 7; RGB (10, 200, 30); RGBA + alpha 7.
    const int r = 10, g = 200, b = 30, luma = (r * 77 + g * 150 + b * 29) >> 8;
    const std::vector<std::vector<uint8_t>> sources = {{90}, {90, 7}, {r, g, b}, {r, g, b, 7}};
    const std::vector<std::vector<std::vector<uint8_t>>> expected = {
        // to 1, 2, 3 and 4 channels
        {{90}, {90, 255}, {90, 90, 90}, {90, 90, 90, 255}},
        {{90}, {90, 7}, {90, 90, 90}, {90, 90, 90, 7}},
        {{(uint8_t)luma}, {(uint8_t)luma, 255}, {r, g, b}, {r, g, b, 255}},
        {{(uint8_t)luma}, {(uint8_t)luma, 7}, {r, g, b}, {r, g, b, 7}},
    };
    for (int from = 1; from <= 4; from++) {
        for (int to = 1; to <= 4; to++) {
            INFO("from " << from << " to " << to);
            CHECK(convert_channels(sources[from - 1], {from, 1, 1}, to) ==
                  expected[from - 1][to - 1]);
        }
    }
}

TEST_CASE("subset keeps where each sample came from") {
    TempDir dir;
    write_bytes(dir / "images", idx_images(3, 2, 4));
    write_bytes(dir / "labels", idx_labels({0, 9, 5}));
    auto data = read_idx_dataset(dir / "images", dir / "labels", fashion_mnist_class_names());
    REQUIRE(data.ok());
    const Dataset sub = subset(data.value(), {2, 1});
    CHECK(sub.count == 2);
    CHECK(sub.labels == std::vector<int32_t>{5, 9});
    CHECK(sub.image(0)[0] == data->image(2)[0]);
    CHECK(describe_sample(sub, 0) == dir / "images" + ": sample 2");
    CHECK(describe_sample(sub, 1, true) == dir / "labels" + ": sample 1");
}
