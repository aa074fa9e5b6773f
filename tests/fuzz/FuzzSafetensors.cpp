// The safetensors reader on arbitrary bytes: the header length, the JSON header, dtypes, shapes
// and data offsets (runtime/Safetensors.h), then what a checkpoint load does with a file that
// parsed (check_finite, check_tensors, load_checkpoint for a small model's object,
// tests/fuzz/tiny.net). A file that
// parses must survive a write and a second read unchanged.

#include "fuzz_tiny.h"
#include "runtime/AotModel.h"
#include "runtime/Checkpoint.h"
#include "runtime/Safetensors.h"
#include "tests/fuzz/FuzzInput.h"

using namespace netc::runtime;

namespace {

void check_round_trip(const SafetensorsFile &file) {
    std::vector<TensorView> views;
    for (const Tensor &t : file.tensors) views.push_back({t.name, t.dtype, t.shape, t.data.data()});
    const std::string path = netc::fuzz::scratch_path(".rewritten.safetensors");
    Status written = write_safetensors(path, views, file.metadata);
    if (!written) return;  // a name the writer refuses (say, empty) is reported, not a finding
    Result<SafetensorsFile> again = read_safetensors(path);
    if (!again || again->tensors.size() != file.tensors.size() ||
        again->metadata != file.metadata) {
        std::fprintf(stderr, "round trip changed the file: %s\n", again.message().c_str());
        std::abort();
    }
    for (size_t i = 0; i < file.tensors.size(); i++) {
        const Tensor &a = file.tensors[i], &b = again->tensors[i];
        if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.data != b.data) {
            std::fprintf(stderr, "round trip changed tensor '%s'\n", a.name.c_str());
            std::abort();
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const AotModel model(fuzz_tiny_model);
    static const std::vector<ExpectedTensor> expected = [] {
        std::vector<ExpectedTensor> tensors;
        for (const ArenaTensor &t : model.info().tensors) tensors.push_back({t.name, t.shape});
        return tensors;
    }();
    const std::vector<uint8_t> bytes(data, data + size);
    Result<SafetensorsFile> file = parse_safetensors(bytes, "fuzz.safetensors");
    netc::fuzz::expect_message(file.ok(), file.message());
    if (file) {
        Status finite = check_finite(*file);
        netc::fuzz::expect_message(finite.ok(), finite.message());
        Status tensors = check_tensors(*file, expected, {"optimizer."});
        netc::fuzz::expect_message(tensors.ok(), tensors.message());
        for (const Tensor &t : file->tensors) (void)t.floats();
        check_round_trip(*file);
    }
    const std::string path = netc::fuzz::write_scratch(data, size, ".safetensors");
    Result<RunShape> run = read_run_shape(path);
    netc::fuzz::expect_message(run.ok(), run.message());
    for (bool with_optimizer : {false, true}) {
        Result<Checkpoint> checkpoint = load_checkpoint(path, model, with_optimizer);
        netc::fuzz::expect_message(checkpoint.ok(), checkpoint.message());
    }
    return 0;
}
