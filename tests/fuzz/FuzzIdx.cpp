// The IDX reader (Fashion-MNIST's format) on arbitrary bytes, raw or gzip (the reader decides
// from the magic 1f 8b, so seeds of both kinds reach both paths): images, labels, and a data set
// built from the same file read as both.

#include "runtime/Dataset.h"
#include "tests/fuzz/FuzzInput.h"

using namespace netc::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string path = netc::fuzz::write_scratch(data, size, "-idx-ubyte");
    Result<IdxImages> images = read_idx_images(path);
    netc::fuzz::expect_message(images.ok(), images.message());
    if (images && images->pixels.size() != (size_t)images->count * images->height * images->width)
        std::abort();
    Result<std::vector<uint8_t>> labels = read_idx_labels(path);
    netc::fuzz::expect_message(labels.ok(), labels.message());
    Result<Dataset> both = read_idx_dataset(path, path, fashion_mnist_class_names());
    netc::fuzz::expect_message(both.ok(), both.message());
    return 0;
}
