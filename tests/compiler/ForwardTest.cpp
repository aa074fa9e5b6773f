// Every op's JIT forward against the plain C++ reference (tests/compiler/Reference.h), on
// random inputs and random parameters. Each model puts many differently configured layers side
// by side, mostly reading the input directly, and every node is checked against the reference
// applied to the JIT value of its own inputs. Sizes are chosen off the vector width (5, 7, 13,
// 17 channels; 9x11 images) and every node runs at batch 1, 3 and 5 (one compiled pipeline
// serves every batch size). Each checked node costs one JIT compile (0.3-1 s on two cores, most
// of it in LLVM), which is what bounds how many configurations a test case lists.
#include "compiler/ForwardHarness.h"
#include "compiler/Lower.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

using namespace netc;
using netc::test::ForwardHarness;
using netc::test::model_source;

TEST_CASE("input: the NCHW images come back unchanged from the (c, x, y, n) layout") {
    ForwardHarness h(model_source("5x9x11", 2, "  flatten\n  dense(units=2)"));
    for (int batch : {1, 3}) {
        std::vector<float> got =
            h.model().evaluate(0, Mode::Infer, h.params().data(), h.images(batch).data(), batch);
        CHECK(got == h.images(batch));
    }
}

TEST_CASE("conv2d: every stride 1-3, pad 0-2 and dilation 1-2, with kernels 1-4; no bias") {
    // Each JIT compile costs about a second here, so instead of the full product with the
    // kernel, every (stride, pad, dilation) appears once, with kernels assigned so that every
    // kernel also meets every stride, every pad and both dilations (pads above k/2 included).
    struct Conv {
        int k, s, p, d;
    };
    // The last two pad beyond the kernel: border outputs that see only padding.
    const Conv grid[] = {
        {1, 1, 0, 1}, {2, 1, 0, 2}, {3, 1, 1, 1}, {4, 1, 1, 2}, {2, 1, 2, 1},
        {3, 1, 2, 2}, {4, 2, 0, 1}, {3, 2, 0, 2}, {1, 2, 1, 1}, {2, 2, 1, 2},
        {1, 2, 2, 1}, {4, 2, 2, 2}, {1, 3, 0, 1}, {2, 3, 0, 2}, {3, 3, 1, 1},
        {4, 3, 1, 2}, {1, 3, 2, 1}, {2, 3, 2, 2}, {3, 1, 3, 1}, {3, 3, 4, 2},
    };
    // Filters cycle through counts below, at and around the vector width.
    const int filters[] = {7, 13, 17, 1, 8, 3};
    std::ostringstream body;
    std::vector<std::string> names;
    int count = 0;
    for (const Conv &c : grid) {
        std::ostringstream name;
        name << "c" << count << "_k" << c.k << "s" << c.s << "p" << c.p << "d" << c.d;
        body << "  " << name.str() << ": conv2d(input, filters=" << filters[count % 6]
             << ", kernel=" << c.k << ", stride=" << c.s << ", pad=" << c.p << ", dilation=" << c.d
             << (count % 3 == 2 ? ", bias=false" : "") << ")\n";
        names.push_back(name.str());
        count++;
    }
    body << "  flatten\n  dense(units=2)";
    ForwardHarness h(model_source("5x9x11", 2, body.str()));
    for (const std::string &name : names) h.check(name);
}

TEST_CASE("conv2d: wide inputs, and a chain whose inputs come from other layers") {
    ForwardHarness h(model_source("13x7x6", 2, R"(
  a: conv2d(filters=17, kernel=3, pad=1)
  r: relu
  b: conv2d(filters=5, kernel=2, stride=2, dilation=2, pad=1)
  pointwise: conv2d(a, filters=16, kernel=1, bias=false)
  flatten
  dense(units=2))"));
    for (const char *name : {"a", "r", "b", "pointwise"}) h.check(name);
}

TEST_CASE("maxpool and avgpool: every stride 1-3 or default and pad 0-k/2, with kernels 1-4") {
    // As for conv2d: every (stride, pad) pair, and every kernel with every stride and every pad
    // it allows (pad <= k/2); stride 0 stands for the default (= kernel).
    struct Pool {
        int k, s, p;
    };
    const Pool grid[] = {
        {1, 1, 0}, {1, 2, 0}, {1, 3, 0}, {2, 1, 1}, {2, 2, 0}, {2, 3, 1}, {2, 0, 0}, {3, 1, 0},
        {3, 2, 1}, {3, 3, 1}, {4, 1, 0}, {4, 1, 2}, {4, 2, 2}, {4, 3, 2}, {4, 0, 1}, {4, 0, 2},
    };
    // Windows alternate between the 17-channel input (vectorized with a tail) and a 5-channel
    // value (narrower than a vector).
    std::ostringstream body;
    body << "  narrow: conv2d(input, filters=5, kernel=1)\n";
    std::vector<std::string> names = {"narrow"};
    int count = 0;
    for (const char *op : {"maxpool", "avgpool"}) {
        for (const Pool &w : grid) {
            std::ostringstream name;
            name << op << count << "_k" << w.k << "s" << w.s << "p" << w.p;
            body << "  " << name.str() << ": " << op << "(" << (count % 2 ? "narrow" : "input")
                 << ", kernel=" << w.k;
            if (w.s) body << ", stride=" << w.s;
            body << ", pad=" << w.p << ")\n";
            names.push_back(name.str());
            count++;
        }
    }
    body << "  flatten\n  dense(units=2)";
    ForwardHarness h(model_source("17x9x11", 2, body.str()));
    for (const std::string &name : names) h.check(name);
}

TEST_CASE("maxpool: padding never wins over negative inputs") {
    // Every input negative: a padded zero (or any finite pad value above the inputs) would win.
    ForwardHarness h(model_source("5x9x11", 2, R"(
  m: maxpool(kernel=2, stride=1, pad=1)
  m3: maxpool(input, kernel=3, stride=2, pad=1)
  flatten
  dense(units=2))"),
                     -3.0f, -1.0f);
    h.check("m");
    h.check("m3");
}

TEST_CASE("global_avgpool, flatten and dense") {
    ForwardHarness h(model_source("5x9x11", 2, R"(
  gap_narrow: global_avgpool(input)
  wide: conv2d(input, filters=13, kernel=3)
  gap_wide: global_avgpool(wide)
  flat: flatten(input)
  flat_again: flatten(flat)
  d7: dense(flat, units=7)
  d17: dense(gap_wide, units=17)
  d1: dense(d17, units=1, bias=false)
  d_nobias: dense(flat, units=13, bias=false)
  dense(d7, units=2))"));
    for (const char *name :
         {"gap_narrow", "wide", "gap_wide", "flat", "flat_again", "d7", "d17", "d1", "d_nobias"}) {
        h.check(name);
    }
}

TEST_CASE("add and concat: images and vectors, two and more inputs") {
    ForwardHarness h(model_source("5x9x11", 2, R"(
  a: conv2d(input, filters=5, kernel=3, pad=1)
  b: conv2d(input, filters=12, kernel=1)
  add2: add(input, a)
  add3: add(a, input, add2)
  cat2: concat(input, b)
  cat3: concat(b, input, a)
  f: flatten(input)
  g: dense(f, units=13)
  addf: add(f, f)
  catf: concat(g, f, g)
  dense(catf, units=2))"));
    for (const char *name : {"a", "b", "add2", "add3", "cat2", "cat3", "f", "g", "addf", "catf"}) {
        h.check(name);
    }
}

namespace {

/// Distance in units in the last place between two finite floats of the same sign or near 0.
int64_t ulps(float a, float b) {
    auto ordered = [](float f) {
        int32_t i;
        std::memcpy(&i, &f, sizeof i);
        return i < 0 ? (int64_t)INT32_MIN - i : (int64_t)i;
    };
    return std::llabs(ordered(a) - ordered(b));
}

}  // namespace

TEST_CASE("vector_tanh: within 4 ulps of tanh, vectorized, and exact at 0 and in the tails") {
    std::vector<float> xs;
    for (int i = -200000; i <= 200000; i++) xs.push_back((float)i * 5e-5f);  // [-10, 10]
    for (float boundary : {0.25f, -0.25f}) {  // either side of the series' limit
        float below = boundary, above = boundary;
        for (int k = 0; k < 4; k++) {
            below = std::nextafter(below, 0.0f);
            above = std::nextafter(above, 2 * boundary);
            xs.push_back(below);
            xs.push_back(above);
        }
    }
    const float inf = std::numeric_limits<float>::infinity();
    for (float special : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, 20.0f, -20.0f, 90.0f, inf, -inf}) {
        xs.push_back(special);
    }
    Halide::Buffer<float> in(xs.data(), (int)xs.size());
    Halide::Var i("i");
    Halide::Func f("f");
    f(i) = vector_tanh(in(i));
    f.vectorize(i, 16, Halide::TailStrategy::GuardWithIf);
    Halide::Buffer<float> out =
        f.realize({(int)xs.size()}, Halide::get_jit_target_from_environment());
    int64_t worst = 0;
    for (size_t k = 0; k < xs.size(); k++) {
        float expected = std::tanh(xs[k]);
        REQUIRE_MESSAGE(std::isfinite(out((int)k)), "x = " << xs[k]);
        worst = std::max(worst, ulps(out((int)k), expected));
        if (std::fabs(xs[k]) < 1e-7f || std::fabs(xs[k]) >= 20.0f) CHECK(out((int)k) == expected);
    }
    MESSAGE("vector_tanh: at most " << worst << " ulps from std::tanh");
    CHECK(worst <= 4);
}

TEST_CASE("elementwise activations on images and on vectors") {
    // Inputs in [-4, 4): the saturating tails of sigmoid, tanh, elu and gelu are exercised.
    std::ostringstream body;
    body << "  wide: conv2d(input, filters=17, kernel=1)\n"
            "  flat: flatten(input)\n"
            "  vec: dense(flat, units=13)\n";
    std::vector<std::string> names = {"wide", "flat", "vec"};
    // Every activation on an image, narrower than a vector (input, 5 channels) or wider (17,
    // with a tail); most on a vector too.
    struct Activation {
        const char *op, *args, *source;
    };
    const Activation activations[] = {
        {"sigmoid", "", "input"},
        {"sigmoid", "", "vec"},
        {"tanh", "", "wide"},
        {"tanh", "", "vec"},
        {"relu", "", "input"},
        {"relu", "", "vec"},
        {"leaky_relu", "", "input"},
        {"leaky_relu", ", alpha=0.2", "wide"},
        {"prelu", "", "input"},
        {"prelu", "", "vec"},
        {"prelu", ", shared=true", "wide"},
        {"prelu", ", shared=true", "vec"},
        {"elu", "", "input"},
        {"elu", ", alpha=0.7", "wide"},
        {"selu", "", "wide"},
        {"selu", "", "vec"},
        {"gelu", "", "input"},
        {"gelu", "", "vec"},
        {"gelu", ", approximate=tanh", "wide"},
    };
    int count = 0;
    for (const Activation &a : activations) {
        std::ostringstream name;
        name << a.op << count++ << "_" << a.source;
        body << "  " << name.str() << ": " << a.op << "(" << a.source << a.args << ")\n";
        names.push_back(name.str());
    }
    body << "  dense(flat, units=2)";
    ForwardHarness h(model_source("5x9x11", 2, body.str()), -4.0f, 4.0f);
    for (const std::string &name : names) h.check(name);
}

TEST_CASE("maxout: groups of consecutive channels, images and vectors") {
    ForwardHarness h(model_source("12x5x7", 2, R"(
  m2: maxout(input, pieces=2)
  m3: maxout(input, pieces=3)
  m12: maxout(input, pieces=12)
  wide: conv2d(input, filters=48, kernel=1)
  m_wide: maxout(wide, pieces=3)
  flat: flatten(input)
  v: dense(flat, units=15)
  mv: maxout(v, pieces=5)
  dense(mv, units=2))"));
    for (const char *name : {"m2", "m3", "m12", "wide", "m_wide", "v", "mv"}) h.check(name);
}

TEST_CASE("batchnorm: batch statistics in training, running statistics in inference") {
    ForwardHarness h(model_source("5x9x11", 2, R"(
  bn_narrow: batchnorm(input)
  wide: conv2d(input, filters=13, kernel=3, pad=1)
  bn_wide: batchnorm(wide, eps=1e-3)
  bn_plain: batchnorm(wide, affine=false)
  relu_after: relu(bn_wide)
  flat: flatten(input)
  vec: dense(flat, units=17)
  bn_vec: batchnorm(vec)
  bn_vec_plain: batchnorm(vec, affine=false)
  dense(bn_vec, units=2))"));
    for (const char *name : {"bn_narrow", "bn_wide", "bn_plain", "relu_after"}) h.check_both(name);
    // A vector at batch 1 has one value per channel: torch refuses to train on it, and the
    // generated x * scale + shift (scale = 1/sqrt(eps) ~ 316) only approximates the exact 0.
    for (const char *name : {"bn_vec", "bn_vec_plain"}) {
        h.check(name, Mode::Infer);
        h.check(name, Mode::Train, {3, 5});
    }

    {
        INFO("the two modes differ, and training mode normalizes each channel");
        int id = h.node("bn_plain");
        std::vector<float> train =
            h.model().evaluate(id, Mode::Train, h.params().data(), h.images(5).data(), 5);
        std::vector<float> infer =
            h.model().evaluate(id, Mode::Infer, h.params().data(), h.images(5).data(), 5);
        CHECK(train != infer);
        // Without affine, each channel of the training output has mean 0 and variance ~1.
        const Shape &s = h.graph().nodes[id].shape;
        size_t c_count = s.dims[0], pixels = s.dims[1] * s.dims[2];
        for (size_t c = 0; c < c_count; c++) {
            double sum = 0, sq = 0;
            for (size_t n = 0; n < 5; n++)
                for (size_t p = 0; p < pixels; p++) {
                    double v = train[(n * c_count + c) * pixels + p];
                    sum += v, sq += v * v;
                }
            double count = 5.0 * pixels, mean = sum / count;
            CHECK(std::abs(mean) < 1e-4);
            CHECK(sq / count - mean * mean == doctest::Approx(1.0).epsilon(1e-3));
        }
    }
}

TEST_CASE("layernorm and groupnorm: images and vectors, affine on and off") {
    ForwardHarness h(model_source("12x5x7", 2, R"(
  ln: layernorm(input)
  ln_plain: layernorm(input, affine=false, eps=1e-3)
  gn1: groupnorm(input, groups=1)
  gn3: groupnorm(input, groups=3)
  gn12: groupnorm(input, groups=12, affine=false)
  wide: conv2d(input, filters=18, kernel=3)
  gn_wide: groupnorm(wide, groups=6)
  flat: flatten(input)
  vec: dense(flat, units=15)
  ln_vec: layernorm(vec)
  gn_vec: groupnorm(vec, groups=5)
  gn_vec1: groupnorm(vec, groups=15, affine=false)
  dense(vec, units=2))"));
    for (const char *name : {"ln", "ln_plain", "gn1", "gn3", "gn12", "wide", "gn_wide", "vec",
                             "ln_vec", "gn_vec", "gn_vec1"}) {
        h.check(name);
    }
}

TEST_CASE("dropout: the counter-based mask in training, the identity in inference") {
    ForwardHarness h(model_source("16x9x11", 2, R"(
  half: dropout(input)
  fifth: dropout(input, p=0.2)
  none: dropout(input, p=0)
  flat: flatten(input)
  vec: dense(flat, units=13)
  dvec: dropout(vec, p=0.7)
  dense(dvec, units=2))"));
    for (const char *name : {"half", "fifth", "none", "vec", "dvec"}) h.check_both(name);
    h.check("half", Mode::Train, {3}, 12345);
    h.check("dvec", Mode::Train, {5}, 0xffffffffu);

    const std::vector<float> &images = h.images(5);
    auto run = [&](const char *name, Mode mode, uint32_t key) {
        return h.model().evaluate(h.node(name), mode, h.params().data(), images.data(), 5, key);
    };
    {
        INFO("inference is exactly the identity, and so is p = 0 in training");
        CHECK(run("half", Mode::Infer, 3) == images);
        CHECK(run("none", Mode::Train, 3) == images);
    }
    {
        INFO("the kept fraction is 1 - p, and kept values are scaled by 1 / (1 - p)");
        for (auto [name, p] : {std::pair{"half", 0.5}, std::pair{"fifth", 0.2}}) {
            std::vector<float> out = run(name, Mode::Train, 99);
            size_t kept = 0;
            for (size_t i = 0; i < out.size(); i++) {
                if (out[i] == 0.0f) continue;
                kept++;
                CHECK(out[i] == doctest::Approx(images[i] / (1.0 - p)).epsilon(1e-6));
            }
            double fraction = (double)kept / (double)out.size();  // 7920 elements
            const std::string layer = name;  // clang 14 cannot capture a structured binding
            INFO(layer);
            CHECK(std::abs(fraction - (1.0 - p)) < 0.03);
        }
    }
    {
        INFO("masks differ between steps (keys) and between layers");
        std::vector<float> a = run("half", Mode::Train, 1), b = run("half", Mode::Train, 2);
        CHECK(a != b);
        CHECK(run("half", Mode::Train, 1) == a);  // and repeat for the same key
        // Layers draw from different streams: "fifth" keeps a different set than "half" would.
        std::vector<float> f = run("fifth", Mode::Train, 1);
        size_t same_zero = 0, zeros = 0;
        for (size_t i = 0; i < a.size(); i++) {
            if (a[i] == 0.0f) zeros++, same_zero += f[i] == 0.0f;
        }
        // Independent masks: about 20% of half's zeros are also fifth's zeros.
        CHECK((double)same_zero / (double)zeros < 0.3);
    }
}

TEST_CASE("dropconnect on dense and conv2d: the step's weight mask in training, the plain "
          "weights in inference") {
    ForwardHarness h(model_source("7x9x11", 2, R"(
  c_half: conv2d(input, filters=5, kernel=3, pad=1, dropconnect=0.5)
  c_strided: conv2d(input, filters=13, kernel=2, stride=2, bias=false, dropconnect=0.2)
  c_plain: conv2d(input, filters=5, kernel=3, pad=1)
  flat: flatten(input)
  d_half: dense(flat, units=13, dropconnect=0.5)
  d_none: dense(flat, units=13, dropconnect=0)
  d_most: dense(flat, units=6, bias=false, dropconnect=0.9)
  add(d_half, d_none)
  dense(units=2))"));
    for (const char *name : {"c_half", "c_strided", "d_half", "d_none", "d_most"}) {
        h.check_both(name);
    }
    h.check("c_half", Mode::Train, {3}, 0xffffffffu);
    h.check("d_half", Mode::Train, {5}, 12345);

    const std::vector<float> &images = h.images(3);
    auto run = [&](const char *name, Mode mode, uint32_t key) {
        return h.model().evaluate(h.node(name), mode, h.params().data(), images.data(), 3, key);
    };
    INFO("inference does not depend on the step, training does, and repeats for one step");
    CHECK(run("d_half", Mode::Infer, 1) == run("d_half", Mode::Infer, 2));
    std::vector<float> a = run("d_half", Mode::Train, 1);
    CHECK(a != run("d_half", Mode::Train, 2));
    CHECK(a == run("d_half", Mode::Train, 1));
    CHECK(run("d_none", Mode::Train, 1) == run("d_none", Mode::Infer, 1));
    // One mask per step for the whole batch: identical samples give identical outputs.
    std::vector<float> same(images.begin(), images.begin() + images.size() / 3);
    std::vector<float> three;
    for (int n = 0; n < 3; n++) three.insert(three.end(), same.begin(), same.end());
    std::vector<float> out =
        h.model().evaluate(h.node("d_half"), Mode::Train, h.params().data(), three.data(), 3, 9);
    CHECK(std::vector<float>(out.begin(), out.begin() + 13) ==
          std::vector<float>(out.begin() + 13, out.begin() + 26));
}

TEST_CASE("fractional_maxpool: torch's region formula, per-sample draws in training, u = 0.5 in "
          "inference") {
    {
        INFO("the region starts of ATen's generate_intervals, worked by hand");
        // in 10, out 6, k 2: alpha = 8/5 = 1.6; u = 0.3: floor((i + 0.3) * 1.6) - floor(0.48)
        CHECK(reference::fractional_intervals(0.3f, 10, 6, 2) ==
              std::vector<int>{0, 2, 3, 5, 6, 8});
        // u = 0.5: floor((i + 0.5) * 1.6) - floor(0.8)
        CHECK(reference::fractional_intervals(0.5f, 10, 6, 2) ==
              std::vector<int>{0, 2, 4, 5, 7, 8});
        CHECK(reference::fractional_intervals(0.9f, 7, 1, 3) == std::vector<int>{4});
    }
    ForwardHarness h(model_source("13x9x11", 2, R"(
  r7: fractional_maxpool(input, ratio=0.7)
  r5k3: fractional_maxpool(input, kernel=3, ratio=0.5)
  o4: fractional_maxpool(input, kernel=3, output=4)
  o1: fractional_maxpool(input, kernel=2, output=1)
  disjoint: fractional_maxpool(input, kernel=1, output=5)
  full: fractional_maxpool(input, kernel=2, output=8)
  flatten(r7)
  dense(units=2))"));
    for (const char *name : {"r7", "r5k3", "o4", "o1", "disjoint", "full"}) h.check_both(name);
    h.check("r7", Mode::Train, {5}, 0xffffffffu);
    CHECK(h.graph().nodes[h.node("r7")].shape == Shape{{13, 6, 7}});
    CHECK(h.graph().nodes[h.node("r5k3")].shape == Shape{{13, 4, 5}});

    const std::vector<float> &images = h.images(5);
    auto run = [&](const char *name, Mode mode, uint32_t key) {
        return h.model().evaluate(h.node(name), mode, h.params().data(), images.data(), 5, key);
    };
    INFO("inference regions are fixed, training regions change with the step");
    CHECK(run("r7", Mode::Infer, 1) == run("r7", Mode::Infer, 2));
    std::vector<float> a = run("r7", Mode::Train, 1);
    CHECK(a != run("r7", Mode::Train, 2));
    CHECK(a == run("r7", Mode::Train, 1));
    // Each sample draws its own regions: over 5 samples, the draws differ.
    auto d0 = reference::fractional_draws(true, 1, h.node("r7"), 0);
    auto d1 = reference::fractional_draws(true, 1, h.node("r7"), 1);
    CHECK(d0 != d1);
}

TEST_CASE("stochastic_depth: a draw per sample (row) or per batch, scaled by 1/(1-p); the "
          "identity in inference") {
    ForwardHarness h(model_source("5x9x11", 2, R"(
  row: stochastic_depth(input, p=0.5)
  batch: stochastic_depth(input, p=0.3, mode=batch)
  none: stochastic_depth(input, p=0)
  flat: flatten(input)
  vec: dense(flat, units=7)
  vrow: stochastic_depth(vec, p=0.6)
  add(vec, vrow)
  dense(units=2))"));
    for (const char *name : {"row", "batch", "none", "vrow"}) h.check_both(name, {1, 3, 5, 8});
    const std::vector<float> &images = h.images(8);
    auto run = [&](const char *name, Mode mode, uint32_t key) {
        return h.model().evaluate(h.node(name), mode, h.params().data(), images.data(), 8, key);
    };
    CHECK(run("row", Mode::Infer, 3) == images);
    CHECK(run("none", Mode::Train, 3) == images);
    size_t per = images.size() / 8;
    int kept_rows = 0, rows = 0, kept_batches = 0, mixed = 0;
    for (uint32_t key = 1; key <= 40; key++) {
        std::vector<float> r = run("row", Mode::Train, key), b = run("batch", Mode::Train, key);
        bool all_kept = true, all_dropped = true;
        for (int n = 0; n < 8; n++) {
            // A sample is dropped or kept as a whole.
            bool dropped = r[n * per] == 0.0f;
            rows++;
            kept_rows += !dropped;
            for (size_t i = n * per; i < (n + 1) * per; i++) {
                REQUIRE((dropped ? r[i] == 0.0f
                                 : r[i] == doctest::Approx(images[i] / 0.5).epsilon(1e-6)));
                bool b_dropped = b[i] == 0.0f;
                all_kept &= !b_dropped;
                all_dropped &= b_dropped;
            }
        }
        // Batch mode: one draw for every sample.
        mixed += !(all_kept || all_dropped);
        kept_batches += all_kept;
        if (key > 4) continue;  // a few keys against the reference, the rest by their statistics
        h.check("row", Mode::Train, {8}, key);
        h.check("batch", Mode::Train, {8}, key);
    }
    CHECK(mixed == 0);
    CHECK(std::abs((double)kept_rows / rows - 0.5) < 0.1);  // 320 draws
    CHECK(kept_batches > 20);                               // about 28 of 40 at p = 0.3
    CHECK(kept_batches < 36);
}

TEST_CASE("hog: Dalal and Triggs' histograms against the reference, colour and gray, every norm") {
    // 20x17: the last 1 to 2 columns and rows lie outside every whole cell.
    ForwardHarness h(model_source("3x20x17", 2, R"(
  default: hog(input, cell=4)
  single: hog(input, cell=5, block=1, norm=l2)
  wide: hog(input, cell=3, block=3, bins=6, norm=l1)
  fine: hog(input, cell=4, bins=12, norm=l1sqrt)
  concat(default, single, wide, fine)
  dense(units=2))"));
    for (const char *name : {"default", "single", "wide", "fine"}) h.check(name);
    // 5x4 cells of 4 pixels, 4x3 blocks of 2x2 cells, 9 bins each.
    CHECK(h.graph().nodes[h.node("default")].shape == Shape{{4 * 3 * 4 * 9}});
    CHECK(h.graph().nodes[h.node("wide")].shape == Shape{{4 * 3 * 9 * 6}});

    ForwardHarness gray(model_source("1x28x28", 2, R"(
  features: hog(cell=4)
  dense(units=2))"));
    gray.check("features");
}

TEST_CASE("hog of a horizontal ramp, worked by hand") {
    // I(y, x) = x / 10: gx = 0.2 inside, 0.1 at the edges (repeated), gy = 0: every angle is 0,
    // which lies halfway between the centres of bin 0 (10 degrees) and bin 8 (170 degrees).
    ForwardHarness h(model_source("1x8x8", 2, R"(
  features: hog(cell=8, block=1, norm=l1)
  dense(units=2))"));
    std::vector<float> ramp(64);
    for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 8; x++) ramp[y * 8 + x] = (float)x / 10.0f;
    }
    std::vector<float> out =
        h.model().evaluate(h.node("features"), Mode::Infer, h.params().data(), ramp.data(), 1, 0);
    REQUIRE(out.size() == 9);
    // l1: the two bins share the whole mass equally (eps = 1e-5 against a total of 11.2).
    CHECK(out[0] == doctest::Approx(0.5).epsilon(1e-5));
    CHECK(out[8] == doctest::Approx(0.5).epsilon(1e-5));
    for (int b = 1; b < 8; b++) CHECK(out[b] == 0.0f);
}

TEST_CASE("color_histogram against the reference, values outside the range in the edge bins") {
    ForwardHarness h(model_source("3x7x5", 2, R"(
  default: color_histogram(input)
  coarse: color_histogram(input, bins=3)
  shifted: color_histogram(input, bins=5, low=-0.1, high=0.9)
  concat(default, coarse, shifted)
  dense(units=2))"),
                     -0.2f, 1.2f);
    for (const char *name : {"default", "coarse", "shifted"}) h.check(name);
    CHECK(h.graph().nodes[h.node("default")].shape == Shape{{48}});

    // Each channel's fractions sum to 1.
    std::vector<float> out = h.model().evaluate(h.node("coarse"), Mode::Infer, h.params().data(),
                                                h.images(3).data(), 3, 0);
    for (int n = 0; n < 3; n++) {
        for (int c = 0; c < 3; c++) {
            CHECK(out[n * 9 + c * 3] + out[n * 9 + c * 3 + 1] + out[n * 9 + c * 3 + 2] ==
                  doctest::Approx(1.0).epsilon(1e-6));
        }
    }
}
