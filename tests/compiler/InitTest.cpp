// Parameter initialization: determinism (same seed, same bits, whatever the order or threads
// the parallel loops run on), each initializer's distribution against its formula in fan-in
// and fan-out, the fixed initial values of normalization layers, zeroed alignment padding, and
// the agreement of the C++ random functions (compiler/Random.h) with their Halide twins.
#include "compiler/Frontend.h"
#include "compiler/Jit.h"
#include "compiler/Lower.h"
#include "compiler/LowerInit.h"
#include "compiler/LowerProgram.h"
#include "compiler/Random.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

using namespace netc;

namespace {

// Every initializer on tensors large enough for tight statistics, with fan-in != fan-out:
// conv weights [128, 32, 3, 3] (fan-in 288, fan-out 1152), dense [300, 1152] (1152, 300).
const char *init_model = R"(model init_kinds {
  input 32x6x6
  classes 10

  c_he_n: conv2d(filters=128, kernel=3, pad=1, init=he_normal, bias_init=constant(0.5))
  c_he_u: conv2d(input, filters=128, kernel=3, pad=1, init=he_uniform, bias_init=ones)
  c_xa_n: conv2d(input, filters=128, kernel=3, pad=1, init=xavier_normal, bias=false)
  c_xa_u: conv2d(input, filters=128, kernel=3, pad=1, init=xavier_uniform)
  c_small: conv2d(input, filters=5, kernel=2)
  bn: batchnorm(c_he_n)
  bn_plain: batchnorm(c_he_n, affine=false)
  ln: layernorm(c_he_n)
  gn: groupnorm(c_he_n, groups=4)
  pr: prelu(c_he_n)
  pr_shared: prelu(c_he_n, init=-0.1, shared=true)
  flat: flatten(input)
  d_he_n: dense(flat, units=300, init=he_normal)
  d_he_u: dense(flat, units=300, init=he_uniform)
  d_xa_n: dense(flat, units=300, init=xavier_normal)
  d_xa_u: dense(flat, units=300, init=xavier_uniform)
  d_zeros: dense(flat, units=7, init=zeros, bias_init=constant(-2.5))
  d_ones: dense(flat, units=7, init=ones)
  dense(flat, units=10, init=constant(0.125))
}
)";

struct InitModel {
    Frontend fe = run_frontend("init_kinds.net", init_model);
    InitModel() { REQUIRE(fe.ok()); }
    const ParamLayout &layout() const { return fe.layout; }
    const ParamEntry &entry(const std::string &name) const {
        const ParamEntry *e = fe.layout.find(name);
        REQUIRE_MESSAGE(e != nullptr, name);
        return *e;
    }
};

std::vector<float> init_arena(JitModel &model, uint64_t seed) {
    std::vector<float> arena((size_t)model.layout().total, std::numeric_limits<float>::quiet_NaN());
    model.init(seed, arena.data());
    return arena;
}

std::vector<float> slice(const std::vector<float> &arena, const ParamEntry &e) {
    return std::vector<float>(arena.begin() + e.offset, arena.begin() + e.offset + e.size);
}

// fan-in and fan-out from a torch-layout weight shape, as torch.nn.init computes them.
void torch_fans(const Shape &s, double &fan_in, double &fan_out) {
    double receptive = 1;
    for (int i = 2; i < s.rank(); i++) receptive *= (double)s.dims[i];
    fan_in = (double)s.dims[1] * receptive;
    fan_out = (double)s.dims[0] * receptive;
}

// The custom parallel-for used to check that init does not depend on how parallel loops are
// run: tasks in reverse order on one thread, or every task on its own thread.
enum class ParMode { Reverse, ThreadPerTask };
ParMode par_mode = ParMode::Reverse;
std::atomic<int> par_calls{0};

int custom_par_for(Halide::JITUserContext *ctx, int (*f)(Halide::JITUserContext *, int, uint8_t *),
                   int min, int extent, uint8_t *closure) {
    par_calls++;
    if (par_mode == ParMode::Reverse) {
        for (int i = min + extent - 1; i >= min; i--) {
            if (int err = f(ctx, i, closure)) return err;
        }
        return 0;
    }
    std::vector<std::thread> threads;
    std::atomic<int> result{0};
    for (int i = min; i < min + extent; i++) {
        threads.emplace_back([&, i] {
            if (int err = f(ctx, i, closure)) result = err;
        });
    }
    for (std::thread &t : threads) t.join();
    return result;
}

}  // namespace

TEST_CASE("init: the same seed gives the same bits, from any JitModel and any parallel order") {
    InitModel m;
    JitModel a(*m.fe.graph, m.layout()), b(*m.fe.graph, m.layout());
    std::vector<float> first = init_arena(a, 42);
    std::vector<float> again = init_arena(a, 42);  // the same compiled pipeline, run twice
    std::vector<float> other = init_arena(b, 42);  // a second, separately compiled pipeline
    CHECK(std::memcmp(first.data(), again.data(), first.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(first.data(), other.data(), first.size() * sizeof(float)) == 0);

    // The init entry point with its parallel loops (if its schedule has any) run serially in
    // reverse order, then with one thread per task. Halide's thread pool reads HL_NUM_THREADS once
    // per process, so this replaces the pool rather than resizing it.
    Halide::Target target = Halide::get_jit_target_from_environment();
    Program program = build_program(*m.fe.graph, {});
    LoweredPipeline entry =
        lower_pipeline(program, *m.fe.graph, m.layout(), *program.find("init"), {});
    schedule_pipeline(entry, Strategy::Netc, target);
    entry.pipeline.jit_handlers().custom_do_par_for = custom_par_for;
    entry.pipeline.compile_jit(target);
    entry.seed.set(42);
    for (ParMode mode : {ParMode::Reverse, ParMode::ThreadPerTask}) {
        par_mode = mode;
        par_calls = 0;
        std::vector<float> arena((size_t)m.layout().total, -1.0f);
        Halide::Buffer<float> out(arena.data(), (int)arena.size());
        entry.pipeline.realize(out, target);
        INFO("parallel loops run by the custom parallel-for: " << par_calls.load());
        CHECK(std::memcmp(first.data(), arena.data(), first.size() * sizeof(float)) == 0);
    }
}

TEST_CASE("init: different seeds give different weights, the same constants") {
    InitModel m;
    JitModel model(*m.fe.graph, m.layout());
    std::vector<float> s1 = init_arena(model, 1), s2 = init_arena(model, 2);
    std::vector<float> high =
        init_arena(model, 1 + (uint64_t(1) << 32));  // differs in the high word
    for (const ParamEntry &e : m.layout().entries) {
        INFO(e.name);
        std::vector<float> a = slice(s1, e), b = slice(s2, e), c = slice(high, e);
        bool random = e.init.kind != Initializer::Kind::Zeros &&
                      e.init.kind != Initializer::Kind::Ones &&
                      e.init.kind != Initializer::Kind::Constant;
        if (!random) {
            CHECK(a == b);
            CHECK(a == c);
            continue;
        }
        size_t same_b = 0, same_c = 0;
        for (size_t i = 0; i < a.size(); i++) same_b += a[i] == b[i], same_c += a[i] == c[i];
        CHECK(same_b < a.size() / 100 + 1);
        CHECK(same_c < a.size() / 100 + 1);
    }
    // Different tensors of one shape and initializer draw from different streams.
    std::vector<float> p = slice(s1, m.entry("c_he_n.weight")),
                       q = slice(s1, m.entry("c_xa_n.weight"));
    double corr = 0, pp = 0, qq = 0;
    for (size_t i = 0; i < p.size(); i++) corr += p[i] * q[i], pp += p[i] * p[i], qq += q[i] * q[i];
    CHECK(std::abs(corr / std::sqrt(pp * qq)) < 0.03);
}

TEST_CASE("init: each initializer's distribution matches its formula in fan-in and fan-out") {
    InitModel m;
    JitModel model(*m.fe.graph, m.layout());
    std::vector<float> arena = init_arena(model, 7);
    int checked = 0;
    for (const ParamEntry &e : m.layout().entries) {
        if (e.size < 30000) continue;  // the large weights; c_small is checked elsewhere
        Initializer::Kind kind = e.init.kind;
        bool uniform =
            kind == Initializer::Kind::HeUniform || kind == Initializer::Kind::XavierUniform;
        bool normal =
            kind == Initializer::Kind::HeNormal || kind == Initializer::Kind::XavierNormal;
        if (!uniform && !normal) continue;
        INFO(e.name << " " << e.shape.list_str() << " " << to_string(e.init));
        double fan_in, fan_out;
        torch_fans(e.shape, fan_in, fan_out);
        bool he = kind == Initializer::Kind::HeUniform || kind == Initializer::Kind::HeNormal;
        // torch.nn.init: he (kaiming, gain sqrt 2, fan_in) std = sqrt(2 / fan_in), xavier std =
        // sqrt(2 / (fan_in + fan_out)); uniform bound = sqrt(3) std.
        double sigma = std::sqrt(2.0 / (he ? fan_in : fan_in + fan_out));
        double bound = std::sqrt(3.0) * sigma;

        std::vector<float> w = slice(arena, e);
        double n = (double)w.size(), sum = 0, sq = 0, quad = 0, max_abs = 0;
        for (float v : w) sum += v, max_abs = std::max(max_abs, (double)std::abs(v));
        double mean = sum / n;
        for (float v : w) {
            double d = v - mean;
            sq += d * d, quad += d * d * d * d;
        }
        double var = sq / n, kurtosis = quad / n / (var * var);
        size_t within_sigma =
            std::count_if(w.begin(), w.end(), [&](float v) { return std::abs(v) < sigma; });
        double fraction = within_sigma / n;
        checked++;
        CHECK(std::abs(mean) < 4.0 * sigma / std::sqrt(n));
        CHECK(std::sqrt(var) == doctest::Approx(sigma).epsilon(0.02));
        if (uniform) {
            CHECK(max_abs <= bound * (1 + 1e-6));
            CHECK(max_abs > bound * 0.999);
            CHECK(kurtosis == doctest::Approx(1.8).epsilon(0.05));  // flat: 9/5
            CHECK(fraction == doctest::Approx(1 / std::sqrt(3.0)).epsilon(0.02));
        } else {
            CHECK(kurtosis == doctest::Approx(3.0).epsilon(0.05));
            CHECK(fraction == doctest::Approx(0.682689).epsilon(0.02));  // P(|z| < 1)
            CHECK(max_abs > 3.5 * sigma);  // the tails exist (P(|z| > 3.5) ~ 5e-4)
            CHECK(max_abs < 6.5 * sigma);
        }
    }
    CHECK(checked == 8);  // he and xavier, uniform and normal, on conv and dense weights
}

TEST_CASE("init: constants, normalization layers and padding") {
    InitModel m;
    JitModel model(*m.fe.graph, m.layout());
    std::vector<float> arena = init_arena(model, 11);  // NaN-filled before init
    auto all = [&](const char *name, float value) {
        INFO(name);
        std::vector<float> v = slice(arena, m.entry(name));
        CHECK(std::all_of(v.begin(), v.end(), [&](float x) { return x == value; }));
    };
    all("c_he_n.bias", 0.5f);
    all("c_he_u.bias", 1.0f);
    all("c_xa_u.bias", 0.0f);  // the default bias_init
    all("c_small.bias", 0.0f);
    all("d_zeros.weight", 0.0f);
    all("d_zeros.bias", -2.5f);
    all("d_ones.weight", 1.0f);
    all("dense_1.weight", 0.125f);
    for (const char *norm : {"bn", "ln", "gn"}) {
        all((std::string(norm) + ".weight").c_str(), 1.0f);
        all((std::string(norm) + ".bias").c_str(), 0.0f);
    }
    for (const char *bn : {"bn", "bn_plain"}) {
        all((std::string(bn) + ".running_mean").c_str(), 0.0f);
        all((std::string(bn) + ".running_var").c_str(), 1.0f);
    }
    CHECK(m.layout().find("bn_plain.weight") == nullptr);
    CHECK(m.entry("ln.weight").shape.list_str() == "[128, 6, 6]");
    all("pr.weight", 0.25f);
    CHECK(m.entry("pr.weight").size == 128);
    all("pr_shared.weight", -0.1f);
    CHECK(m.entry("pr_shared.weight").size == 1);
    CHECK(m.entry("c_small.weight").shape.list_str() == "[5, 32, 2, 2]");

    // The default weight init (he_normal) on a small tensor: finite and not all equal.
    std::vector<float> small = slice(arena, m.entry("c_small.weight"));
    CHECK(std::all_of(small.begin(), small.end(), [](float x) { return std::isfinite(x); }));
    CHECK(*std::max_element(small.begin(), small.end()) >
          *std::min_element(small.begin(), small.end()));

    // Every float outside the tensors (alignment padding) is written, and written as 0.
    std::vector<bool> covered(arena.size(), false);
    size_t overlaps = 0;
    for (const ParamEntry &e : m.layout().entries) {
        CHECK(e.offset % 16 == 0);
        for (int64_t i = e.offset; i < e.offset + e.size; i++) {
            overlaps += covered[i];
            covered[i] = true;
        }
    }
    CHECK(overlaps == 0);
    CHECK(m.layout().total % 16 == 0);
    size_t padding = 0, bad = 0;
    for (size_t i = 0; i < arena.size(); i++) {
        if (covered[i]) continue;
        padding++;
        bad += !(arena[i] == 0.0f);
    }
    CHECK(padding > 0);  // the model has tensors whose sizes are not multiples of 16
    CHECK(bad == 0);
}

TEST_CASE("init: every value is the documented function of (seed, tensor name, index)") {
    // The runtime and other tools can reproduce an init from compiler/Random.h alone:
    // key = stream_key(seed, init_stream(name)); uniform(-b, b) = (2 u(i) - 1) b;
    // normal(0, s) = s sqrt(-2 ln(1 - u(2i))) cos(2 pi u(2i + 1)).
    InitModel m;
    JitModel model(*m.fe.graph, m.layout());
    const uint64_t seed = 0x123456789abcdefULL;
    std::vector<float> arena = init_arena(model, seed);
    for (const ParamEntry &e : m.layout().entries) {
        Initializer::Kind kind = e.init.kind;
        bool uniform =
            kind == Initializer::Kind::HeUniform || kind == Initializer::Kind::XavierUniform;
        bool normal =
            kind == Initializer::Kind::HeNormal || kind == Initializer::Kind::XavierNormal;
        if (!uniform && !normal) continue;
        INFO(e.name);
        double fan_in, fan_out;
        torch_fans(e.shape, fan_in, fan_out);
        bool he = kind == Initializer::Kind::HeUniform || kind == Initializer::Kind::HeNormal;
        double sigma = std::sqrt(2.0 / (he ? fan_in : fan_in + fan_out));
        uint32_t key = random::stream_key(seed, init_stream(e.name));
        size_t bad = 0, worst = 0;
        double worst_err = 0;
        for (int64_t i = 0; i < e.size; i++) {
            double want;
            if (uniform) {
                want = (2.0 * random::uniform(key, (uint32_t)i) - 1.0) * std::sqrt(3.0) * sigma;
            } else {
                double u1 = 1.0 - random::uniform(key, (uint32_t)(2 * i));
                double u2 = random::uniform(key, (uint32_t)(2 * i + 1));
                want = sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2);
            }
            double err = std::abs(arena[e.offset + i] - want);
            // float evaluation of log, cos and sqrt: a few ulps of the value's scale
            if (err > 1e-5 * sigma + 1e-5 * std::abs(want)) bad++;
            if (err > worst_err) worst_err = err, worst = (size_t)i;
        }
        CHECK_MESSAGE(bad == 0, bad << " values differ; worst at " << worst << " by " << worst_err);
    }
}

TEST_CASE("random: the C++ functions agree with their Halide twins bit for bit") {
    using namespace Halide;
    Param<uint32_t> key("key"), base("base"), seed_lo("seed_lo"), seed_hi("seed_hi");
    Var i("i");
    Expr index = cast<uint32_t>(i) + base;  // uint32 arithmetic: wraps past 2^32 - 1
    Func bits("bits"), uniform("uniform"), keys("keys");
    bits(i) = random_bits(key, index);
    uniform(i) = random_uniform(key, index);
    keys(i) = random_key(seed_lo, seed_hi, index);
    Pipeline pipeline({bits, uniform, keys});
    const int n = 4096;
    for (uint32_t k : {0u, 1u, 0x9e3779b9u, 0xffffffffu}) {
        for (uint32_t b : {0u, 0x7ffff800u, 0xfffff800u}) {
            for (uint64_t seed : {uint64_t(0), uint64_t(42), uint64_t(0xfedcba9876543210ULL)}) {
                key.set(k), base.set(b);
                seed_lo.set((uint32_t)seed), seed_hi.set((uint32_t)(seed >> 32));
                Buffer<uint32_t> got_bits(n), got_keys(n);
                Buffer<float> got_uniform(n);
                pipeline.realize({got_bits, got_uniform, got_keys});
                size_t bad_bits = 0, bad_uniform = 0, bad_keys = 0;
                for (int j = 0; j < n; j++) {
                    uint32_t idx = b + (uint32_t)j;
                    bad_bits += got_bits(j) != random::bits(k, idx);
                    float u = random::uniform(k, idx);
                    bad_uniform += std::memcmp(&got_uniform(j), &u, sizeof u) != 0;
                    bad_keys += got_keys(j) != random::stream_key(seed, idx);
                }
                INFO("key " << k << " base " << b << " seed " << seed);
                CHECK(bad_bits == 0);
                CHECK(bad_uniform == 0);
                CHECK(bad_keys == 0);
            }
        }
    }
}
