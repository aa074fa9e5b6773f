// The CIFAR-10 binary batch reader on arbitrary bytes: record framing and labels, for the ten
// CIFAR-10 classes and for a data set with fewer.

#include "runtime/Dataset.h"
#include "tests/fuzz/FuzzInput.h"

using namespace netc::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string path = netc::fuzz::write_scratch(data, size, ".bin");
    for (const std::vector<std::string> &classes :
         {cifar10_class_names(), std::vector<std::string>{"a", "b", "c"}}) {
        Result<Dataset> batch = read_cifar10_batches({path, path}, classes);
        netc::fuzz::expect_message(batch.ok(), batch.message());
        if (batch) {
            Status status = check_dataset(*batch, {3, 32, 32, (int)classes.size()});
            netc::fuzz::expect_message(status.ok(), status.message());
        }
    }
    return 0;
}
