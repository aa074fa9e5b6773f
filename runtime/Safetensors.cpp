#include "runtime/Safetensors.h"

#include "runtime/Files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader and writer assume a little-endian host"
#endif

namespace netc::runtime {

namespace {

struct DTypeInfo {
    DType dtype;
    const char *name;
    int64_t size;
};

constexpr DTypeInfo dtype_table[] = {
    {DType::BOOL, "BOOL", 1},       {DType::U8, "U8", 1},           {DType::I8, "I8", 1},
    {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1}, {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},         {DType::F16, "F16", 2},         {DType::BF16, "BF16", 2},
    {DType::I32, "I32", 4},         {DType::U32, "U32", 4},         {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},         {DType::I64, "I64", 8},         {DType::U64, "U64", 8},
};

/// A header longer than this is not a checkpoint (the reference implementation's limit).
constexpr uint64_t max_header_bytes = 100'000'000;

/// elements * dtype size, or -1 on a negative extent or overflow.
int64_t byte_size(const std::vector<int64_t> &shape, DType dtype) {
    unsigned __int128 n = (unsigned __int128)dtype_size(dtype);
    for (int64_t d : shape) {
        if (d < 0) return -1;
        n *= (uint64_t)d;
        if (n > (unsigned __int128)INT64_MAX) return -1;
    }
    return (int64_t)n;
}

using json = nlohmann::json;

/// A non-negative integer that fits int64, from a JSON value.
bool as_count(const json &v, int64_t &out) {
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > (uint64_t)INT64_MAX) return false;
        out = (int64_t)u;
        return true;
    }
    if (v.is_number_integer()) {
        out = v.get<int64_t>();
        return out >= 0;
    }
    return false;
}

}  // namespace

const char *to_string(DType dtype) {
    for (const DTypeInfo &info : dtype_table) {
        if (info.dtype == dtype) return info.name;
    }
    return "?";
}

int64_t dtype_size(DType dtype) {
    for (const DTypeInfo &info : dtype_table) {
        if (info.dtype == dtype) return info.size;
    }
    return 0;
}

std::optional<DType> parse_dtype(const std::string &name) {
    for (const DTypeInfo &info : dtype_table) {
        if (name == info.name) return info.dtype;
    }
    return std::nullopt;
}

int64_t elements(const std::vector<int64_t> &shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string shape_to_string(const std::vector<int64_t> &shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); i++) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

int64_t Tensor::elements() const { return runtime::elements(shape); }

std::vector<float> Tensor::floats() const {
    if (dtype != DType::F32) return {};
    std::vector<float> out(data.size() / sizeof(float));
    // An empty tensor has no data: memcpy may not be given its null pointer.
    if (!out.empty()) std::memcpy(out.data(), data.data(), out.size() * sizeof(float));
    return out;
}

const Tensor *SafetensorsFile::find(const std::string &name) const {
    for (const Tensor &t : tensors) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

Status write_safetensors(const std::string &path, const std::vector<TensorView> &tensors,
                         const std::map<std::string, std::string> &metadata) {
    // The header: __metadata__ first, then the tensors in the order their data follows.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::set<std::string> names;
    std::vector<int64_t> sizes;
    int64_t offset = 0;
    for (const TensorView &t : tensors) {
        const std::string where = path + ": tensor '" + t.name + "': ";
        if (t.name.empty()) return Status::error(path + ": a tensor has an empty name");
        if (t.name == "__metadata__")
            return Status::error(where + "the name is reserved for the metadata");
        if (!names.insert(t.name).second) return Status::error(where + "the name is used twice");
        if (dtype_size(t.dtype) == 0) return Status::error(where + "unknown dtype");
        const int64_t size = byte_size(t.shape, t.dtype);
        if (size < 0) return Status::error(where + "invalid shape " + shape_to_string(t.shape));
        if (size > 0 && !t.data) return Status::error(where + "no data");
        header[t.name] = {{"dtype", to_string(t.dtype)},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + size}}};
        sizes.push_back(size);
        offset += size;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    uint8_t length[8];
    for (int i = 0; i < 8; i++) length[i] = (uint8_t)((uint64_t)text.size() >> (8 * i));

    return write_file_atomically(path, [&](const ByteSink &sink) {
        if (!sink(length, sizeof length) || !sink(text.data(), text.size())) return;
        for (size_t i = 0; i < tensors.size(); i++) {
            if (sizes[i] > 0 && !sink(tensors[i].data, (size_t)sizes[i])) return;
        }
    });
}

Result<SafetensorsFile> parse_safetensors(const std::vector<uint8_t> &bytes,
                                          const std::string &path) {
    using R = Result<SafetensorsFile>;
    const uint64_t file_size = bytes.size();
    if (file_size < 8) {
        return R::error(path + ": truncated: " + std::to_string(file_size) +
                        " bytes, too short for the 8-byte safetensors header length");
    }
    uint64_t header_length = 0;
    for (int i = 0; i < 8; i++) header_length |= (uint64_t)bytes[(size_t)i] << (8 * i);
    if (header_length > file_size - 8) {
        return R::error(path + ": bad header length: the header is said to be " +
                        std::to_string(header_length) + " bytes but only " +
                        std::to_string(file_size - 8) +
                        " follow the length (truncated, or not a safetensors file)");
    }
    if (header_length > max_header_bytes) {
        return R::error(path + ": bad header length " + std::to_string(header_length) +
                        ": more than the 100 MB a safetensors header may have");
    }
    const char *text = (const char *)bytes.data() + 8;
    if (header_length < 2 || text[0] != '{') {
        return R::error(path + ": bad header: it must be a JSON object starting with '{'");
    }
    json header;
    try {
        header = json::parse(text, text + header_length);
    } catch (const json::exception &e) {
        // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 9: ...",
        // or "[json.exception.out_of_range.406] number overflow parsing '1e999'".
        std::string what = e.what();
        const size_t pos = what.find("] ");
        if (pos != std::string::npos) what = what.substr(pos + 2);
        return R::error(path + ": bad JSON in the header: " + what);
    }
    if (!header.is_object()) return R::error(path + ": bad header: it must be a JSON object");

    SafetensorsFile file;
    file.path = path;
    const int64_t data_size = (int64_t)(file_size - 8 - header_length);
    const uint8_t *data = bytes.data() + 8 + header_length;
    struct Span {
        int64_t begin, end;
        size_t tensor;
    };
    std::vector<Span> spans;
    for (const auto &[name, entry] : header.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object())
                return R::error(path + ": __metadata__ must be an object of strings");
            for (const auto &[key, value] : entry.items()) {
                if (!value.is_string()) {
                    return R::error(path + ": __metadata__ '" + key + "' is " + value.dump() +
                                    ", but metadata values must be strings");
                }
                file.metadata[key] = value.get<std::string>();
            }
            continue;
        }
        const std::string where = path + ": tensor '" + name + "': ";
        if (!entry.is_object())
            return R::error(where + "its entry must be an object, not " + entry.dump());
        for (const auto &[key, value] : entry.items()) {
            (void)value;
            if (key != "dtype" && key != "shape" && key != "data_offsets") {
                return R::error(where + "unexpected field '" + key +
                                "' (expected dtype, shape, data_offsets)");
            }
        }
        Tensor tensor;
        tensor.name = name;
        const auto dtype = entry.find("dtype");
        if (dtype == entry.end() || !dtype->is_string()) return R::error(where + "no dtype string");
        const auto parsed = parse_dtype(dtype->get<std::string>());
        if (!parsed) return R::error(where + "unknown dtype " + dtype->dump());
        tensor.dtype = *parsed;

        const auto shape = entry.find("shape");
        if (shape == entry.end() || !shape->is_array()) return R::error(where + "no shape array");
        for (const json &d : *shape) {
            int64_t extent = 0;
            if (!as_count(d, extent))
                return R::error(where + "bad shape " + shape->dump() +
                                ": extents must be integers >= 0");
            tensor.shape.push_back(extent);
        }
        const int64_t size = byte_size(tensor.shape, tensor.dtype);
        if (size < 0) return R::error(where + "shape " + shape->dump() + " is too large");

        const auto offsets = entry.find("data_offsets");
        int64_t begin = 0, end = 0;
        if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
            !as_count((*offsets)[0], begin) || !as_count((*offsets)[1], end)) {
            return R::error(where + "data_offsets must be [begin, end], two integers >= 0");
        }
        if (begin > end) {
            return R::error(where + "data_offsets [" + std::to_string(begin) + ", " +
                            std::to_string(end) + "] end before they begin");
        }
        if (end > data_size) {
            return R::error(where + "data_offsets [" + std::to_string(begin) + ", " +
                            std::to_string(end) + "] are out of range: the data is " +
                            std::to_string(data_size) + " bytes");
        }
        if (end - begin != size) {
            return R::error(where + "data_offsets [" + std::to_string(begin) + ", " +
                            std::to_string(end) + "] hold " + std::to_string(end - begin) +
                            " bytes but shape " + shape_to_string(tensor.shape) + " of " +
                            to_string(tensor.dtype) + " needs " + std::to_string(size));
        }
        tensor.data.assign(data + begin, data + end);
        spans.push_back({begin, end, file.tensors.size()});
        file.tensors.push_back(std::move(tensor));
    }

    // The data must be covered exactly: in offset order, each tensor starts where the last ended.
    std::sort(spans.begin(), spans.end(), [](const Span &a, const Span &b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    int64_t covered = 0;
    for (size_t i = 0; i < spans.size(); i++) {
        const Span &s = spans[i];
        const std::string &name = file.tensors[s.tensor].name;
        if (s.begin < covered) {
            return R::error(path + ": tensor '" + name + "': data_offsets [" +
                            std::to_string(s.begin) + ", " + std::to_string(s.end) +
                            "] overlap those of tensor '" + file.tensors[spans[i - 1].tensor].name +
                            "'");
        }
        if (s.begin > covered) {
            return R::error(path + ": tensor '" + name + "': data_offsets [" +
                            std::to_string(s.begin) + ", " + std::to_string(s.end) +
                            "] leave bytes " + std::to_string(covered) + " to " +
                            std::to_string(s.begin) + " unused: the data must be contiguous");
        }
        covered = s.end;
    }
    if (covered != data_size) {
        return R::error(
            path + ": " + std::to_string(data_size - covered) +
            " bytes of data after the last tensor: the file is not what its header describes");
    }
    std::vector<Tensor> ordered;
    ordered.reserve(spans.size());
    for (const Span &s : spans) ordered.push_back(std::move(file.tensors[s.tensor]));
    file.tensors = std::move(ordered);
    return file;
}

Status check_finite(const SafetensorsFile &file) {
    for (const Tensor &t : file.tensors) {
        if (t.dtype != DType::F32 && t.dtype != DType::F64) continue;
        const int64_t n = t.elements();
        for (int64_t i = 0; i < n; i++) {
            double x;
            if (t.dtype == DType::F32) {
                float f;
                std::memcpy(&f, t.data.data() + i * 4, 4);
                x = f;
            } else {
                std::memcpy(&x, t.data.data() + i * 8, 8);
            }
            if (std::isfinite(x)) continue;
            // The flat index as a multi-index of the row-major shape.
            std::string index;
            int64_t rest = i;
            for (size_t d = t.shape.size(); d-- > 0;) {
                const int64_t extent = std::max<int64_t>(t.shape[d], 1);
                index = std::to_string(rest % extent) + (index.empty() ? "" : ", ") + index;
                rest /= extent;
            }
            return Status::error(file.path + ": tensor '" + t.name + "' holds " +
                                 (std::isnan(x) ? "nan"
                                  : x > 0       ? "inf"
                                                : "-inf") +
                                 " at index [" + index + "] (element " + std::to_string(i) +
                                 " of " + std::to_string(n) + ")");
        }
    }
    return {};
}

Result<SafetensorsFile> read_safetensors(const std::string &path) {
    auto bytes = read_file(path);
    if (!bytes) return bytes.status();
    return parse_safetensors(bytes.value(), path);
}

Status check_tensors(const SafetensorsFile &file, const std::vector<ExpectedTensor> &expected,
                     const std::vector<std::string> &ignore_prefixes) {
    std::string problems;
    auto report = [&](const std::string &line) {
        problems += (problems.empty() ? "" : "\n") + file.path + ": " + line;
    };
    std::set<std::string> wanted;
    for (const ExpectedTensor &e : expected) {
        wanted.insert(e.name);
        const Tensor *t = file.find(e.name);
        if (!t) {
            report("missing tensor '" + e.name + "' (the model expects " + to_string(e.dtype) +
                   " " + shape_to_string(e.shape) + ")");
        } else if (t->shape != e.shape) {
            report("tensor '" + e.name + "' has shape " + shape_to_string(t->shape) +
                   " but the model expects " + shape_to_string(e.shape));
        } else if (t->dtype != e.dtype) {
            report("tensor '" + e.name + "' has dtype " + to_string(t->dtype) +
                   " but the model expects " + to_string(e.dtype));
        }
    }
    for (const Tensor &t : file.tensors) {
        if (wanted.count(t.name)) continue;
        const bool ignored =
            std::any_of(ignore_prefixes.begin(), ignore_prefixes.end(),
                        [&](const std::string &p) { return t.name.rfind(p, 0) == 0; });
        if (ignored) continue;
        report("unexpected tensor '" + t.name + "' " + to_string(t.dtype) + " " +
               shape_to_string(t.shape) + ": the model has no such tensor");
    }
    if (problems.empty()) return Status();
    return Status::error(problems);
}

}  // namespace netc::runtime
