#include "compiler/LowerInit.h"

#include "compiler/Lower.h"
#include "dsl/Error.h"

#include <algorithm>
#include <cmath>

namespace netc {

using namespace Halide;

void fans(const Shape &shape, int64_t &fan_in, int64_t &fan_out) {
    int64_t receptive = 1;
    for (int i = 2; i < shape.rank(); i++) receptive *= shape.dims[i];
    if (shape.rank() >= 2) {
        fan_in = shape.dims[1] * receptive;
        fan_out = shape.dims[0] * receptive;
    } else {
        fan_in = fan_out = shape.rank() == 1 ? shape.dims[0] : 1;
    }
}

uint32_t init_stream(const std::string &tensor_name) {
    uint32_t h = 2166136261U;
    for (unsigned char ch : tensor_name) h = (h ^ ch) * 16777619U;
    return h;
}

namespace {

// uniform(-b, b) = (2u - 1) b;  normal(0, s) = s sqrt(-2 ln u1) cos(2 pi u2)  (Box-Muller)
Expr init_value(const ParamEntry &e, const Expr &key, const Expr &i) {
    int64_t fan_in = 1, fan_out = 1;
    fans(e.shape, fan_in, fan_out);
    auto uniform = [&](double bound) {
        return (2.0f * random_uniform(key, i) - 1.0f) * (float)bound;
    };
    auto normal = [&](double stddev) {
        Expr u1 = 1.0f - random_uniform(key, 2 * i);  // (0, 1]: log stays finite
        Expr u2 = random_uniform(key, 2 * i + 1);
        return (float)stddev * sqrt(-2.0f * log(u1)) * cos(6.283185307179586f * u2);
    };
    switch (e.init.kind) {
    case Initializer::Kind::XavierUniform:
        return uniform(std::sqrt(6.0 / double(fan_in + fan_out)));
    case Initializer::Kind::XavierNormal: return normal(std::sqrt(2.0 / double(fan_in + fan_out)));
    case Initializer::Kind::HeUniform: return uniform(std::sqrt(6.0 / double(fan_in)));
    case Initializer::Kind::HeNormal: return normal(std::sqrt(2.0 / double(fan_in)));
    case Initializer::Kind::Zeros: return 0.0f;
    case Initializer::Kind::Ones: return 1.0f;
    case Initializer::Kind::Constant: return (float)e.init.value;
    }
    internal_error("unhandled initializer");
}

}  // namespace

InitFunc lower_init(const ParamLayout &layout, const Expr &seed_lo, const Expr &seed_hi) {
    Var i("i");
    InitFunc f{Func("arena"), {}};
    f.arena(i) = 0.0f;  // alignment padding
    for (const ParamEntry &e : layout.entries) {
        std::string rdom_name = e.name;  // Halide names may not contain '.'
        std::replace(rdom_name.begin(), rdom_name.end(), '.', '_');
        RDom r(0, (int)e.size, rdom_name);
        Expr key =
            random_key(seed_lo, seed_hi, Internal::make_const(UInt(32), init_stream(e.name)));
        f.arena((int)e.offset + r) = init_value(e, key, r);
        f.ranges.push_back(r);
    }
    return f;
}

}  // namespace netc
