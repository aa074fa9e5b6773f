#pragma once
// safetensors files (https://github.com/huggingface/safetensors), netc's checkpoint format:
//
//   8 bytes     N, the header length, unsigned little-endian
//   N bytes     a JSON object: {"__metadata__": {"key": "value", ...},
//                               "fc1.weight": {"dtype": "F32", "shape": [128, 784],
//                                              "data_offsets": [begin, end]}, ...}
//               padded with spaces to a multiple of 8 so the data is aligned
//   the rest    tensor data, little-endian, row-major; offsets are relative to its start
//
// The writer is atomic (temporary file, fsync, rename, fsync of the directory), so a crash or a
// failed write never leaves a half-written file and never harms an existing one. The reader
// checks what the reference implementation (used by safetensors.torch) checks, the data covered
// exactly by the tensors' offsets included, and names the file and the tensor in each error; the
// writer pads the header to 8 bytes as the reference does, so files move both ways.

#include "runtime/Status.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace netc::runtime {

enum class DType {
    BOOL,
    U8,
    I8,
    F8_E4M3,
    F8_E5M2,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64
};

/// The name the format uses: "F32", "I64", ...
const char *to_string(DType dtype);
/// Bytes per element.
int64_t dtype_size(DType dtype);
std::optional<DType> parse_dtype(const std::string &name);

/// A tensor to write; nothing is copied: `data` must hold elements(shape) * dtype_size(dtype)
/// bytes (for F32, that many floats), e.g. a slice of the parameter arena.
struct TensorView {
    std::string name;  // "fc1.weight"
    DType dtype = DType::F32;
    std::vector<int64_t> shape;  // torch layout, [] for a scalar
    const void *data = nullptr;
};

/// A tensor read from a file.
struct Tensor {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;  // elements() * dtype_size(dtype) bytes, little-endian

    int64_t elements() const;
    /// The data as floats; the dtype must be F32 (empty otherwise).
    std::vector<float> floats() const;
};

struct SafetensorsFile {
    std::string path;                             // for messages
    std::map<std::string, std::string> metadata;  // `__metadata__`
    std::vector<Tensor> tensors;                  // in the order of their data in the file

    /// The tensor with this name, or null.
    const Tensor *find(const std::string &name) const;
};

/// The number of elements of a shape (1 for a scalar).
int64_t elements(const std::vector<int64_t> &shape);
/// "[128, 784]".
std::string shape_to_string(const std::vector<int64_t> &shape);

/// Writes the tensors (data in the order given) and metadata to `path` atomically. Errors name
/// the file and, where one is at fault, the tensor (an empty or duplicate name, a negative
/// extent, missing data).
Status write_safetensors(const std::string &path, const std::vector<TensorView> &tensors,
                         const std::map<std::string, std::string> &metadata = {});

/// Reads and validates a whole file: header length within the file, the header valid JSON of the
/// expected form, known dtypes, and data offsets inside the data, of the size shape and dtype
/// imply, neither overlapping nor leaving gaps (the data must be covered exactly).
Result<SafetensorsFile> read_safetensors(const std::string &path);

/// The same on bytes already in memory; `path` is used in messages only.
Result<SafetensorsFile> parse_safetensors(const std::vector<uint8_t> &bytes,
                                          const std::string &path);

/// A tensor a model expects in a checkpoint.
struct ExpectedTensor {
    std::string name;
    std::vector<int64_t> shape;
    DType dtype = DType::F32;
};

/// Checks that `file` holds exactly the `expected` tensors with their shapes and dtypes. Every
/// difference gets its own line, e.g.
///   ckpt.safetensors: tensor 'fc1.weight' has shape [128, 784] but the model expects [256, 784]
///   ckpt.safetensors: missing tensor 'fc2.bias' (the model expects F32 [10])
///   ckpt.safetensors: unexpected tensor 'fc3.weight' F32 [10, 10]: the model has no such tensor
/// Tensors whose names start with one of `ignore_prefixes` (say "optimizer.") may be present
/// without being expected.
Status check_tensors(const SafetensorsFile &file, const std::vector<ExpectedTensor> &expected,
                     const std::vector<std::string> &ignore_prefixes = {});

/// Checks that every F32 and F64 tensor of `file` holds finite numbers only. The error names the
/// file, the first tensor (in file order) holding a NaN or an infinity, the value and its first
/// index, e.g.
///   ckpt.safetensors: tensor 'fc2.bias' holds inf at index [3] (element 3 of 10)
Status check_finite(const SafetensorsFile &file);

}  // namespace netc::runtime
