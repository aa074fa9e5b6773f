// safetensors: round trips, the exact layout (checked by an independent Python reader and
// written by an independent Python writer), every corrupt-file case, the checkpoint-vs-model
// check, and atomic writes that never harm an existing file.

#include "runtime/Safetensors.h"
#include "tests/runtime/TestFiles.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace netc::runtime;
using netc::test::read_bytes;
using netc::test::TempDir;
using netc::test::write_bytes;

namespace {

bool starts_with(const std::string &s, const std::string &prefix) {
    return s.rfind(prefix, 0) == 0;
}

/// A file with this header text (not padded) and `data_size` bytes of data 0, 1, 2, ...
std::vector<uint8_t> make_file(const std::string &header, size_t data_size) {
    std::vector<uint8_t> out;
    for (int i = 0; i < 8; i++) out.push_back((uint8_t)((uint64_t)header.size() >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    for (size_t i = 0; i < data_size; i++) out.push_back((uint8_t)i);
    return out;
}

std::string parse_error(const std::string &header, size_t data_size) {
    return parse_safetensors(make_file(header, data_size), "ckpt").message();
}

/// Files in `dir` other than `keep`: temporaries a failed write must not leave behind.
std::vector<std::string> other_files(const std::string &dir, const std::string &keep) {
    std::vector<std::string> out;
    for (const auto &entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().filename() != keep) out.push_back(entry.path().filename());
    }
    return out;
}

/// Output of a command (stdout and stderr) and its exit status.
std::pair<std::string, int> run(const std::string &command) {
    std::string output;
    FILE *pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return {"popen failed", -1};
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    const int status = ::pclose(pipe);
    return {output, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

const char *python = "/usr/bin/python3";
const std::string script = std::string(NETC_SOURCE_DIR) + "/tests/runtime/check_safetensors.py";

}  // namespace

TEST_CASE("safetensors round trip and exact layout") {
    TempDir dir;
    const std::string path = dir / "ckpt.safetensors";
    const std::vector<float> weight = {0.5f, -1.0f, 2.25f, 3.0f, 0.125f, -0.0f};
    const std::vector<float> bias = {1.5f, -8.0f};
    const int64_t step = 1234567890123;
    REQUIRE(write_safetensors(path,
                              {{"fc.weight", DType::F32, {2, 3}, weight.data()},
                               {"fc.bias", DType::F32, {2}, bias.data()},
                               {"step", DType::I64, {}, &step}},
                              {{"model", "tiny"}, {"normalization_mean", "0.286"}})
                .ok());

    // The header is compact JSON, metadata first, padded with spaces to a multiple of 8.
    const auto bytes = read_bytes(path);
    const std::string header = R"({"__metadata__":{"model":"tiny","normalization_mean":"0.286"},)"
                               R"("fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                               R"("fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},)"
                               R"("step":{"dtype":"I64","shape":[],"data_offsets":[32,40]}})";
    const size_t padded = (header.size() + 7) / 8 * 8;
    REQUIRE(bytes.size() == 8 + padded + 40);
    uint64_t length = 0;
    for (int i = 0; i < 8; i++) length |= (uint64_t)bytes[(size_t)i] << (8 * i);
    CHECK(length == padded);
    CHECK(std::string(bytes.begin() + 8, bytes.begin() + 8 + (long)header.size()) == header);
    CHECK(std::string(bytes.begin() + 8 + (long)header.size(), bytes.begin() + 8 + (long)padded) ==
          std::string(padded - header.size(), ' '));
    CHECK(std::memcmp(bytes.data() + 8 + padded, weight.data(), 24) == 0);

    auto file = read_safetensors(path);
    REQUIRE_MESSAGE(file.ok(), file.message());
    CHECK(file->path == path);
    CHECK(file->metadata ==
          std::map<std::string, std::string>{{"model", "tiny"}, {"normalization_mean", "0.286"}});
    REQUIRE(file->tensors.size() == 3);
    CHECK(file->tensors[0].name == "fc.weight");
    CHECK(file->tensors[1].name == "fc.bias");
    CHECK(file->tensors[2].name == "step");
    CHECK(file->find("fc.weight")->floats() == weight);
    CHECK(file->find("fc.bias")->shape == std::vector<int64_t>{2});
    const Tensor *s = file->find("step");
    REQUIRE(s);
    CHECK(s->dtype == DType::I64);
    CHECK(s->shape.empty());
    CHECK(s->elements() == 1);
    int64_t read_step = 0;
    std::memcpy(&read_step, s->data.data(), 8);
    CHECK(read_step == step);
    CHECK(s->floats().empty());
    CHECK(file->find("nope") == nullptr);

    // An empty file of tensors is valid too.
    REQUIRE(write_safetensors(dir / "empty.safetensors", {}).ok());
    auto empty = read_safetensors(dir / "empty.safetensors");
    REQUIRE_MESSAGE(empty.ok(), empty.message());
    CHECK(empty->tensors.empty());
}

TEST_CASE("safetensors layout agrees with an independent reader and writer") {
    if (access(python, X_OK) != 0) {
        MESSAGE("skipped: " << python << " is absent");
        return;
    }
    TempDir dir;
    const std::string path = dir / "ckpt.safetensors";
    const std::vector<float> weight = {0.5f, -1.0f, 2.25f, 3.0f, 0.125f, -0.0f};
    const std::vector<float> bias = {1.5f, -8.0f};
    const int64_t step = 42;
    REQUIRE(write_safetensors(path,
                              {{"fc.weight", DType::F32, {2, 3}, weight.data()},
                               {"fc.bias", DType::F32, {2}, bias.data()},
                               {"step", DType::I64, {}, &step}},
                              {{"model", "tiny"}})
                .ok());
    const auto [output, status] = run(std::string(python) + " " + script + " read " + path);
    CHECK(status == 0);
    CHECK(output == "metadata model=tiny\n"
                    "fc.weight F32 [2, 3] 0.5 -1.0 2.25 3.0 0.125 -0.0\n"
                    "fc.bias F32 [2] 1.5 -8.0\n"
                    "step I64 [] 42\n");

    // A file laid out the way the reference serializer lays it out.
    const std::string theirs = dir / "theirs.safetensors";
    const std::pair<std::string, int> written =
        run(std::string(python) + " " + script + " write " + theirs);
    REQUIRE_MESSAGE(written.second == 0, written.first);
    auto file = read_safetensors(theirs);
    REQUIRE_MESSAGE(file.ok(), file.message());
    CHECK(file->metadata ==
          std::map<std::string, std::string>{{"classes", "a,b"}, {"model", "tiny"}});
    REQUIRE(file->tensors.size() == 4);
    CHECK(file->tensors[0].name == "conv.weight");  // F64 and I64 first, then F32, by name
    CHECK(file->tensors[0].dtype == DType::F64);
    CHECK(file->tensors[0].shape == std::vector<int64_t>{1, 1, 1, 2});
    CHECK(file->find("fc.weight")->floats() ==
          std::vector<float>{0.5f, -1.0f, 2.25f, 3.0f, 1e-3f, -0.0f});
    CHECK(file->find("fc.bias")->floats() == std::vector<float>{0.125f, -8.0f});
    int64_t their_step = 0;
    std::memcpy(&their_step, file->find("step")->data.data(), 8);
    CHECK(their_step == 1234567890123);
}

TEST_CASE("corrupt safetensors files: each error names the file and the tensor") {
    TempDir dir;
    CHECK(parse_safetensors({1, 2, 3}, "ckpt").message() ==
          "ckpt: truncated: 3 bytes, too short for the 8-byte safetensors header length");
    CHECK(read_safetensors(dir / "missing").message() ==
          dir / "missing" + ": cannot open: No such file or directory");

    // Bad header length: beyond the file.
    auto beyond = make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4);
    beyond[0] = 0xff;
    beyond[1] = 0xff;
    CHECK(parse_safetensors(beyond, "ckpt").message() ==
          "ckpt: bad header length: the header is said to be 65535 bytes but only 58 follow the "
          "length (truncated, or not a safetensors file)");
    CHECK(parse_error("", 0) == "ckpt: bad header: it must be a JSON object starting with '{'");
    CHECK(parse_error("[1, 2]", 0) ==
          "ckpt: bad header: it must be a JSON object starting with '{'");

    // Bad JSON.
    const std::string bad_json = parse_error(R"({"a": {"dtype": "F32",)", 0);
    CHECK_MESSAGE(
        starts_with(bad_json, "ckpt: bad JSON in the header: parse error at line 1, column 23: "),
        bad_json);

    // A number beyond a double: an error like any bad JSON (the fuzzer found it thrown past the
    // reader as nlohmann's out_of_range).
    CHECK(parse_error(R"({"a": 1e999})", 0) ==
          "ckpt: bad JSON in the header: number overflow parsing '1e999'");

    // Entries of the wrong form.
    CHECK(parse_error(R"({"a": 3})", 0) == "ckpt: tensor 'a': its entry must be an object, not 3");
    CHECK(parse_error(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4) ==
          "ckpt: tensor 'a': unknown dtype \"F33\"");
    CHECK(parse_error(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4) ==
          "ckpt: tensor 'a': no dtype string");
    CHECK(parse_error(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4) ==
          "ckpt: tensor 'a': no shape array");
    CHECK(parse_error(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4) ==
          "ckpt: tensor 'a': bad shape [-1]: extents must be integers >= 0");
    CHECK(parse_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4) ==
          "ckpt: tensor 'a': data_offsets must be [begin, end], two integers >= 0");
    CHECK(parse_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", 4) ==
          "ckpt: tensor 'a': unexpected field 'x' (expected dtype, shape, data_offsets)");
    CHECK(parse_error(R"({"__metadata__":{"epoch":3}})", 0) ==
          "ckpt: __metadata__ 'epoch' is 3, but metadata values must be strings");

    // Offsets out of range, not matching the shape, overlapping, leaving gaps or bytes over.
    CHECK(parse_error(R"({"a":{"dtype":"F32","shape":[200],"data_offsets":[0,800]}})", 8) ==
          "ckpt: tensor 'a': data_offsets [0, 800] are out of range: the data is 8 bytes");
    CHECK(parse_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8) ==
          "ckpt: tensor 'a': data_offsets [8, 4] end before they begin");
    CHECK(parse_error(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8) ==
          "ckpt: tensor 'a': data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12");
    CHECK(parse_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                      12) == "ckpt: tensor 'b': data_offsets [4, 12] overlap those of tensor 'a'");
    CHECK(parse_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                      20) == "ckpt: tensor 'b': data_offsets [12, 20] leave bytes 8 to 12 unused: "
                             "the data must be contiguous");
    CHECK(parse_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8) ==
          "ckpt: 4 bytes of data after the last tensor: the file is not what its header describes");

    // A real checkpoint cut short loses the end of its data.
    const std::vector<float> values(100, 1.0f);
    const std::string path = dir / "cut.safetensors";
    REQUIRE(write_safetensors(path, {{"w", DType::F32, {100}, values.data()}}).ok());
    auto bytes = read_bytes(path);
    bytes.resize(bytes.size() - 10);
    write_bytes(path, bytes);
    CHECK(read_safetensors(path).message() ==
          path + ": tensor 'w': data_offsets [0, 400] are out of range: the data is 390 bytes");
    bytes.resize(20);
    write_bytes(path, bytes);
    CHECK(starts_with(read_safetensors(path).message(),
                      path + ": bad header length: the header is said to be "));
}

TEST_CASE("a checkpoint against the tensors a model expects") {
    TempDir dir;
    const std::vector<float> zeros(64, 0.0f);
    const int64_t step = 7;
    REQUIRE(
        write_safetensors(dir / "c", {{"fc1.weight", DType::F32, {4, 8}, zeros.data()},
                                      {"fc1.bias", DType::F32, {4}, zeros.data()},
                                      {"fc2.weight", DType::F32, {2, 4}, zeros.data()},
                                      {"optimizer.m.fc1.weight", DType::F32, {4, 8}, zeros.data()},
                                      {"step", DType::I64, {}, &step}})
            .ok());
    auto file = read_safetensors(dir / "c");
    REQUIRE(file.ok());
    const std::vector<ExpectedTensor> model = {{"fc1.weight", {4, 8}},
                                               {"fc1.bias", {4}},
                                               {"fc2.weight", {2, 4}},
                                               {"step", {}, DType::I64}};
    CHECK(check_tensors(file.value(), model, {"optimizer."}).ok());
    CHECK(check_tensors(file.value(), model).message() ==
          dir / "c" + ": unexpected tensor 'optimizer.m.fc1.weight' F32 [4, 8]: the model has no "
                      "such tensor");

    const std::vector<ExpectedTensor> other = {{"fc1.weight", {5, 8}},
                                               {"fc1.bias", {4}, DType::F64},
                                               {"fc2.weight", {2, 4}},
                                               {"fc2.bias", {2}},
                                               {"step", {}, DType::I64}};
    CHECK(check_tensors(file.value(), other, {"optimizer."}).message() ==
          dir / "c" + ": tensor 'fc1.weight' has shape [4, 8] but the model expects [5, 8]\n" +
              dir / "c" + ": tensor 'fc1.bias' has dtype F32 but the model expects F64\n" +
              dir / "c" + ": missing tensor 'fc2.bias' (the model expects F32 [2])");
}

TEST_CASE("safetensors writes are atomic: a failure leaves the old file intact") {
    TempDir dir;
    const std::string path = dir / "last.safetensors";
    const std::vector<float> old_values = {1.0f, 2.0f};
    REQUIRE(write_safetensors(path, {{"w", DType::F32, {2}, old_values.data()}}).ok());
    const auto old_bytes = read_bytes(path);
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);

    SUBCASE("invalid tensors are refused before anything is written") {
        CHECK(write_safetensors(path, {{"w", DType::F32, {2}, nullptr}}).message() ==
              path + ": tensor 'w': no data");
        CHECK(write_safetensors(path, {{"w", DType::F32, {1}, old_values.data()},
                                       {"w", DType::F32, {1}, old_values.data()}})
                  .message() == path + ": tensor 'w': the name is used twice");
        CHECK(write_safetensors(path, {{"", DType::F32, {1}, old_values.data()}}).message() ==
              path + ": a tensor has an empty name");
        CHECK(write_safetensors(path, {{"w", DType::F32, {-2}, old_values.data()}}).message() ==
              path + ": tensor 'w': invalid shape [-2]");
    }
    SUBCASE("the disk fills up in the middle of the data") {
        // RLIMIT_FSIZE makes write() fail with EFBIG part way through, even for root.
        struct rlimit saved;
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
        auto previous = std::signal(SIGXFSZ, SIG_IGN);
        struct rlimit small = saved;
        small.rlim_cur = 64 * 1024;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
        const std::vector<float> big(1 << 20, 3.0f);
        const Status status = write_safetensors(path, {{"w", DType::F32, {1 << 20}, big.data()}});
        ::setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, previous);
        CHECK(status.message() == path + ": write failed: File too large");
    }
    SUBCASE("the directory cannot be written") {
        if (::geteuid() == 0) {
            MESSAGE("skipped the read-only directory case: root may write anywhere");
        } else {
            REQUIRE(::chmod(dir.path().c_str(), 0555) == 0);
            const Status status =
                write_safetensors(path, {{"w", DType::F32, {1}, old_values.data()}});
            ::chmod(dir.path().c_str(), 0755);
            CHECK(starts_with(status.message(),
                              path + ": cannot create a temporary file in " + dir.path() + ": "));
        }
        CHECK(write_safetensors(dir / "no/such/dir/x", {}).message() ==
              dir / "no/such/dir/x" + ": cannot create a temporary file in " + dir / "no/such/dir" +
                  ": No such file or directory");
    }
    SUBCASE("the target is a directory") {
        const std::string target = dir / "sub";
        std::filesystem::create_directories(target + "/inside");
        const Status status =
            write_safetensors(target, {{"w", DType::F32, {1}, old_values.data()}});
        CHECK(status.message() ==
              target + ": cannot rename the temporary file into place: Is a directory");
        CHECK(std::filesystem::is_directory(target + "/inside"));
    }
    CHECK(read_bytes(path) == old_bytes);
    auto leftovers = other_files(dir.path(), "last.safetensors");
    leftovers.erase(std::remove(leftovers.begin(), leftovers.end(), "sub"), leftovers.end());
    CHECK(leftovers.empty());
}
