// Writes the seed corpora of the fuzz harnesses, one folder per harness under the folder given:
// small valid inputs of each format, made with the project's own writers (and stb_image_write
// for PNG and JPEG) so that nothing binary is committed. The .net seeds are the model files found
// in the folders given after it (examples, golden tests).
//
//   fuzz_make_seeds OUT_DIR NET_DIR...

#include "compiler/Settings.h"
#include "compiler/ops/OpTable.h"
#include "fuzz_tiny.h"
#include "runtime/AotModel.h"
#include "runtime/Checkpoint.h"
#include "runtime/Safetensors.h"

#include <zlib.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

namespace fs = std::filesystem;
using namespace netc::runtime;

namespace {

void write_bytes(const fs::path &path, const std::vector<uint8_t> &bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write((const char *)bytes.data(), (std::streamsize)bytes.size());
    if (!out) throw std::runtime_error(path.string() + ": write failed");
}

std::vector<uint8_t> gzip(const std::vector<uint8_t> &bytes) {
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2 failed");
    std::vector<uint8_t> out(deflateBound(&z, bytes.size()) + 32);
    z.next_in = (Bytef *)bytes.data();
    z.avail_in = (uInt)bytes.size();
    z.next_out = out.data();
    z.avail_out = (uInt)out.size();
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate failed");
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

void put_be32(std::vector<uint8_t> &bytes, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back((uint8_t)(v >> shift));
}

/// IDX images (count x rows x columns) and labels, raw and gzip'd, and a truncated stream.
void idx_seeds(const fs::path &dir) {
    std::vector<uint8_t> images = {0, 0, 8, 3};
    put_be32(images, 3);
    put_be32(images, 5);
    put_be32(images, 4);
    for (int i = 0; i < 3 * 5 * 4; i++) images.push_back((uint8_t)(i * 17));
    std::vector<uint8_t> labels = {0, 0, 8, 1};
    put_be32(labels, 3);
    labels.insert(labels.end(), {7, 0, 9});
    write_bytes(dir / "images", images);
    write_bytes(dir / "labels", labels);
    write_bytes(dir / "images.gz", gzip(images));
    write_bytes(dir / "labels.gz", gzip(labels));
    std::vector<uint8_t> cut = gzip(images);
    cut.resize(cut.size() - 10);
    write_bytes(dir / "images-cut.gz", cut);
}

/// One and two CIFAR-10 records.
void cifar_seeds(const fs::path &dir) {
    std::vector<uint8_t> record(1 + 3 * 32 * 32);
    for (size_t i = 0; i < record.size(); i++) record[i] = (uint8_t)(i * 7);
    record[0] = 2;
    write_bytes(dir / "one.bin", record);
    std::vector<uint8_t> two = record;
    record[0] = 9;
    two.insert(two.end(), record.begin(), record.end());
    write_bytes(dir / "two.bin", two);
}

void append(void *context, void *data, int size) {
    auto *bytes = (std::vector<uint8_t> *)context;
    bytes->insert(bytes->end(), (uint8_t *)data, (uint8_t *)data + size);
}

/// PNG with 1 to 4 channels, JPEG grey and colour, at 28x28 and at an odd size.
void image_seeds(const fs::path &dir) {
    for (auto [h, w] : {std::pair{28, 28}, std::pair{5, 7}}) {
        for (int c = 1; c <= 4; c++) {
            std::vector<uint8_t> pixels((size_t)h * w * c);
            for (size_t i = 0; i < pixels.size(); i++) pixels[i] = (uint8_t)(i * 31 + c);
            std::vector<uint8_t> png, jpg;
            stbi_write_png_to_func(append, &png, w, h, c, pixels.data(), w * c);
            const std::string stem =
                std::to_string(h) + "x" + std::to_string(w) + "c" + std::to_string(c);
            write_bytes(dir / (stem + ".png"), png);
            if (c == 1 || c == 3) {
                stbi_write_jpg_to_func(append, &jpg, w, h, c, pixels.data(), 90);
                write_bytes(dir / (stem + ".jpg"), jpg);
            }
        }
    }
}

/// fuzz_tiny checkpoints with and without optimizer state, and a file of other dtypes, a scalar,
/// an empty tensor and metadata.
void safetensors_seeds(const fs::path &dir) {
    AotModel model(fuzz_tiny_model);
    std::vector<float> params((size_t)model.param_count()), state((size_t)model.opt_state_count());
    model.init(1, params.data());
    for (size_t i = 0; i < state.size(); i++) state[i] = (float)i * 1e-3f;
    TrainingProgress progress{12, 2, 0.5, 1, 0};
    RunShape run{3, 6, 18, 4, 30, 6, "0123456789abcdef", "/data/here", 30};
    Normalization norm{{0.25f}, {0.5f}};
    const std::vector<std::string> classes = {"a", "b", "c"};
    for (auto [name, opt] : {std::pair{"last.safetensors", state.data()},
                             std::pair{"best.safetensors", (float *)nullptr}}) {
        Status saved = save_checkpoint((dir / name).string(), model, params.data(), opt, classes,
                                       norm, progress, 1, run);
        if (!saved) throw std::runtime_error(saved.message());
    }
    const double f64[2] = {1.5, -2.0};
    const int64_t i64[3] = {1, -2, 3};
    const uint8_t u8[4] = {1, 2, 3, 4};
    const float scalar = 3.0f;
    Status saved = write_safetensors((dir / "dtypes.safetensors").string(),
                                     {{"a", DType::F64, {2}, f64},
                                      {"b", DType::I64, {3, 1}, i64},
                                      {"c", DType::U8, {2, 2}, u8},
                                      {"s", DType::F32, {}, &scalar},
                                      {"e", DType::F32, {0, 3}, &scalar}},
                                     {{"format", "pt"}, {"note", "seed"}});
    if (!saved) throw std::runtime_error(saved.message());
}

/// metrics.jsonl as netc train writes it: intervals, epoch ends, a resumed run's repeated steps,
/// nulls, a blank line and a last line cut short.
void metrics_seeds(const fs::path &dir) {
    const std::string interval =
        R"({"step":10,"epoch":1,"loss":2.1,"accuracy":0.3,"lr":0.1,"img_per_s":900.5})";
    const std::string epoch =
        R"({"step":20,"epoch":1,"loss":1.9,"accuracy":0.4,"val_accuracy":0.45,"best_val_accuracy":0.45,"img_per_s":880})";
    std::ofstream(dir / "run.jsonl") << interval << "\n" << epoch << "\n";
    std::ofstream(dir / "resumed.jsonl")
        << interval << "\n"
        << interval << "\n\n"
        << epoch << "\n"
        << R"({"step":30,"epoch":2,"loss":null,"accuracy":null,"lr":0.05,"img_per_s":null})"
        << "\n"
        << R"({"step":40,"epo)";
}

/// One libFuzzer dictionary entry per word and token the front end knows.
void write_dictionary(const fs::path &path) {
    std::set<std::string> words = {
        "model",    "train", "input",   "classes", "loss",       "regularize", "optimizer",
        "schedule", "batch", "epochs",  "seed",    "validation", "augment",    "early_stopping",
        "classify", "true",  "false",   "{",       "}",          "(",          ")",
        "[",        "]",     ",",       ":",       "=",          ";",          "-",
        "#",        "\"",    "1x28x28", "3x32x32", "1e-3",       "0.5"};
    auto add_attrs = [&](const std::vector<netc::AttrSpec> &attrs) {
        for (const netc::AttrSpec &attr : attrs) {
            words.insert(attr.name);
            for (const std::string &choice : attr.choices) words.insert(choice);
        }
    };
    for (const netc::OpDef *op : netc::all_ops()) {
        words.insert(op->name);
        add_attrs(op->attrs);
    }
    for (netc::ChoiceKind kind :
         {netc::ChoiceKind::Loss, netc::ChoiceKind::Regularizer, netc::ChoiceKind::Optimizer,
          netc::ChoiceKind::Schedule, netc::ChoiceKind::Augmentation,
          netc::ChoiceKind::EarlyStopping, netc::ChoiceKind::Classifier}) {
        for (const netc::ChoiceSpec &choice : netc::choice_table(kind)) {
            words.insert(choice.name);
            for (const std::string &alias : choice.aliases) words.insert(alias);
            add_attrs(choice.attrs);
        }
    }
    std::ofstream out(path);
    for (const std::string &word : words) {
        out << '"';
        for (char c : word) {
            if (c == '"' || c == '\\') out << '\\';
            out << c;
        }
        out << "\"\n";
    }
    if (!out) throw std::runtime_error(path.string() + ": write failed");
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: fuzz_make_seeds OUT_DIR NET_DIR...\n";
        return 2;
    }
    try {
        const fs::path out = argv[1];
        for (const char *name : {"frontend", "safetensors", "idx", "cifar", "image", "metrics"})
            fs::create_directories(out / name);
        for (int i = 2; i < argc; i++) {
            for (const fs::directory_entry &entry : fs::directory_iterator(argv[i])) {
                if (entry.path().extension() == ".net") {
                    fs::copy_file(entry.path(), out / "frontend" / entry.path().filename(),
                                  fs::copy_options::overwrite_existing);
                }
            }
        }
        write_dictionary(out / "frontend.dict");
        idx_seeds(out / "idx");
        cifar_seeds(out / "cifar");
        image_seeds(out / "image");
        safetensors_seeds(out / "safetensors");
        metrics_seeds(out / "metrics");
    } catch (const std::exception &e) {
        std::cerr << "fuzz_make_seeds: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
