#pragma once
// Static per-sample shapes. The batch extent is symbolic and never appears here.
// Shapes are written in PyTorch's per-sample order: [C, H, W] for images, [F] for vectors.

#include <cstdint>
#include <string>
#include <vector>

namespace netc {

struct Shape {
    std::vector<int64_t> dims;

    int rank() const { return (int)dims.size(); }
    int64_t elements() const {
        int64_t n = 1;
        for (int64_t d : dims) n *= d;
        return n;
    }
    bool operator==(const Shape &o) const { return dims == o.dims; }
    bool operator!=(const Shape &o) const { return dims != o.dims; }
    /// "32x28x28", "128"
    std::string str() const {
        std::string out;
        for (size_t i = 0; i < dims.size(); i++) {
            if (i) out += 'x';  // not `(i ? "x" : "") + ...`: GCC 12 warns falsely (-Wrestrict)
            out += std::to_string(dims[i]);
        }
        return out.empty() ? "scalar" : out;
    }
    /// "[32, 1, 3, 3]", the way torch prints sizes
    std::string list_str() const {
        std::string out = "[";
        for (size_t i = 0; i < dims.size(); i++) out += (i ? ", " : "") + std::to_string(dims[i]);
        return out + "]";
    }
};

}  // namespace netc
