// Every op's backward rule, both losses and the regularizers against the two oracles of
// tests/compiler/GradientOracles.h (finite differences of the double references, and Halide's
// propagate_adjoints).
// Under test are the values of the derived backward nodes, lowered and scheduled as the train
// step does: every parameter gradient, every input gradient (d_<layer>_input, or
// d_<layer>_input<k> for concat) and dL/dlogits. An input gradient is the gradient through one
// edge of the graph, so the oracles perturb (or differentiate) only what that one consumer
// reads. Regularization goes through the real train step (one SGD step). Each model costs two JIT
// compiles, 2-10 s each on two busy cores (most of it in LLVM), so each puts several ops in a
// chain and keeps to one convolution at most where it can; batch 3 everywhere. About 2.5 minutes
// in all here.
#include "compiler/GradientOracles.h"
#include "compiler/Jit.h"
#include "compiler/Random.h"

#include <doctest/doctest.h>

#include <string>
#include <tuple>
#include <vector>

using namespace netc;
using namespace netc::test;

TEST_CASE("sigmoid, tanh, leaky_relu, conv2d with stride and dilation, overlapping padded "
          "maxpool, dense; softmax cross-entropy") {
    GradCheck gc(model_source("2x7x7", 4,
                              "  c1: conv2d(filters=5, kernel=3, pad=1)\n"
                              "  s1: sigmoid\n"
                              "  c2: conv2d(filters=6, kernel=3, stride=2, pad=2, dilation=2)\n"
                              "  t1: tanh\n"
                              "  p1: maxpool(kernel=3, stride=2, pad=1)\n"
                              "  flatten\n"
                              "  d1: dense(units=9)\n"
                              "  l1: leaky_relu(alpha=0.2)\n"
                              "  d2: dense(units=4, bias=false)\n"
                              "  loss softmax_cross_entropy"));
    check_model(gc,
                {"c1.weight", "c1.bias", "c2.weight", "d1.weight", "d2.weight", "d_s1_input",
                 "d_c2_input", "d_t1_input", "d_p1_input", "d_l1_input", "d_d2_input", "d_logits"});
}

TEST_CASE("conv2d's input gradient by phases: strides 2 and 3, kernels that the stride divides, "
          "does not divide and is larger than, channels fewer and more than a vector") {
    GradCheck gc(model_source("5x15x17", 3,
                              "  c0: conv2d(filters=5, kernel=1)\n"
                              "  c1: conv2d(filters=17, kernel=4, stride=2, pad=1)\n"
                              "  c2: conv2d(filters=6, kernel=5, stride=3, pad=2)\n"
                              "  c3: conv2d(filters=4, kernel=1, stride=2)\n"
                              "  flatten\n"
                              "  d1: dense(units=3)\n"
                              "  loss softmax_cross_entropy"));
    check_model(gc, {"c0.weight", "c1.weight", "c2.weight", "c3.weight", "d_c1_input", "d_c2_input",
                     "d_c3_input", "d_logits"});
}

TEST_CASE("avgpool (overlapping, padded, uncovered pixels), elu, selu, exact gelu, relu, "
          "global_avgpool, prelu on images; cross-entropy with label smoothing") {
    GradCheck gc(model_source("3x7x7", 4,
                              "  p0: prelu\n"
                              "  a1: avgpool(kernel=3, stride=2, pad=1)\n"
                              "  e1: elu(alpha=0.7)\n"
                              "  c2: conv2d(filters=6, kernel=2)\n"
                              "  s1: selu\n"
                              "  a2: avgpool(kernel=2)\n"
                              "  g1: gelu\n"
                              "  r1: relu\n"
                              "  gap: global_avgpool\n"
                              "  fc: dense(units=4)\n"
                              "  loss softmax_cross_entropy(label_smoothing=0.1)"),
                 2);
    check_model(gc, {"p0.weight", "c2.weight", "c2.bias", "fc.weight", "fc.bias", "d_a1_input",
                     "d_e1_input", "d_c2_input", "d_s1_input", "d_a2_input", "d_g1_input",
                     "d_r1_input", "d_gap_input", "d_logits"});
}

TEST_CASE("concat, add with fan-out, maxout, prelu per channel and shared, tanh gelu; svm") {
    GradCheck gc(model_source("2x5x5", 5,
                              "  a: conv2d(filters=4, kernel=3, pad=1)\n"
                              "  pa: prelu\n"
                              "  b: batchnorm(input)\n"
                              "  cat: concat(pa, b, pa)\n"
                              "  mo: maxout(pieces=2)\n"
                              "  g: gelu(approximate=tanh)\n"
                              "  flatten\n"
                              "  d1: dense(units=6)\n"
                              "  ps: prelu(shared=true)\n"
                              "  d2: dense(units=6)\n"
                              "  sum: add(ps, d2)\n"
                              "  fc: dense(units=5)\n"
                              "  loss svm(margin=1)"),
                 3);
    check_model(gc,
                {"a.weight", "b.weight", "b.bias", "pa.weight", "ps.weight", "d1.weight", "d2.bias",
                 "fc.weight", "d_pa_input", "d_cat_input0", "d_cat_input1", "d_cat_input2",
                 "d_mo_input", "d_g_input", "d_ps_input", "d_d2_input", "d_fc_input", "d_logits"});
}

TEST_CASE("normalization on vectors: batchnorm, layernorm, groupnorm (affine or not); dropout; "
          "the dropout mask of the backward pass is the forward one") {
    GradCheck gc(model_source("3x2x2", 5,
                              "  flatten\n"
                              "  d1: dense(units=12)\n"
                              "  bn: batchnorm\n"
                              "  ln: layernorm\n"
                              "  gn: groupnorm(groups=3)\n"
                              "  t: tanh\n"
                              "  drop: dropout(p=0.3)\n"
                              "  d2: dense(units=8)\n"
                              "  ln2: layernorm(affine=false)\n"
                              "  gn2: groupnorm(groups=2, affine=false)\n"
                              "  bn2: batchnorm(affine=false)\n"
                              "  fc: dense(units=5)\n"
                              "  loss softmax_cross_entropy"),
                 4);
    int drop = gc.node("drop"), t = gc.node("t"), dx = gc.node("d_drop_input");
    int dy = gc.train_graph().nodes[dx].inputs[0];
    for (int id : {drop, t, dy}) gc.request(id);
    check_model(gc, {"bn.weight", "bn.bias", "ln.weight", "ln.bias", "gn.weight", "gn.bias",
                     "d_bn_input", "d_ln_input", "d_gn_input", "d_t_input", "d_drop_input",
                     "d_ln2_input", "d_gn2_input", "d_bn2_input", "d_logits"});
    // The same elements are dropped in both passes: dx = dy / (1 - p) where the forward kept
    // x, 0 where it dropped it.
    const std::vector<float> &y = gc.netc(drop), &x = gc.netc(t), &g = gc.netc(dx),
                             &up = gc.netc(dy);
    int kept = 0, dropped = 0;
    for (size_t i = 0; i < y.size(); i++) {
        REQUIRE(x[i] != 0.0f);
        if (y[i] == 0.0f) {
            dropped++;
            CHECK(g[i] == 0.0f);
        } else {
            kept++;
            CHECK(y[i] == doctest::Approx(x[i] / 0.7f).epsilon(1e-6));
            CHECK(g[i] == doctest::Approx(up[i] / 0.7f).epsilon(1e-6));
        }
    }
    CHECK(kept > 0);
    CHECK(dropped > 0);
}

TEST_CASE("normalization on images: batchnorm, layernorm ([C, H, W] weights), groupnorm, "
          "prelu; image dropout; svm with a smaller margin") {
    GradCheck gc(model_source("4x4x5", 3,
                              "  p: prelu\n"
                              "  bn: batchnorm\n"
                              "  ln: layernorm\n"
                              "  gn: groupnorm(groups=2)\n"
                              "  s: sigmoid\n"
                              "  drop: dropout(p=0.25)\n"
                              "  fl: flatten\n"
                              "  fc: dense(units=3)\n"
                              "  loss svm(margin=0.5)"),
                 5);
    check_model(gc, {"p.weight", "bn.weight", "bn.bias", "ln.weight", "ln.bias", "gn.weight",
                     "gn.bias", "d_bn_input", "d_ln_input", "d_gn_input", "d_s_input",
                     "d_drop_input", "d_fl_input", "d_logits"});
}

TEST_CASE("maxpool and maxout send dy to the first maximum when several tie") {
    // A negative shift before the relu makes whole windows (and maxout groups) of zeros.
    GradCheck gc(model_source("2x6x8", 3,
                              "  gn: groupnorm(groups=1)\n"
                              "  r: relu\n"
                              "  mp: maxpool(kernel=2)\n"
                              "  mo: maxout(pieces=2)\n"
                              "  flatten\n"
                              "  fc: dense(units=3)\n"
                              "  loss softmax_cross_entropy"),
                 6);
    gc.fill_param("gn.bias", -1.0f);
    int r = gc.node("r"), mp = gc.node("mp"), dmp = gc.node("d_mp_input"),
        dmo = gc.node("d_mo_input");
    int dy_mp = gc.train_graph().nodes[dmp].inputs[0],
        dy_mo = gc.train_graph().nodes[dmo].inputs[0];
    for (int id : {r, mp, dy_mp, dy_mo}) gc.request(id);
    // Entries next to a tie are kinks for finite differences; the adjoint oracle's maxima
    // break ties the same way.
    CheckOptions opt;
    opt.min_smooth = 0.2;
    check_model(gc, {"d_mp_input", "d_mo_input", "d_r_input"}, opt);

    // maxpool: windows 2x2, stride 2, over (n, c, y, x); the first maximum in row-major order.
    const std::vector<float> &x = gc.netc(r), &dmp_got = gc.netc(dmp), &dy = gc.netc(dy_mp);
    std::vector<float> want(x.size(), 0.0f);
    int c = 2, h = 6, w = 8, oh = 3, ow = 4, ties = 0;
    for (int n = 0; n < kBatch; n++)
        for (int k = 0; k < c; k++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    auto at = [&](int y, int xx) { return ((n * c + k) * h + y) * w + xx; };
                    int best = at(2 * oy, 2 * ox), equal = 0;
                    for (int ky = 0; ky < 2; ky++)
                        for (int kx = 0; kx < 2; kx++) {
                            int i = at(2 * oy + ky, 2 * ox + kx);
                            if (x[i] > x[best]) best = i;
                        }
                    for (int ky = 0; ky < 2; ky++)
                        for (int kx = 0; kx < 2; kx++)
                            equal += x[at(2 * oy + ky, 2 * ox + kx)] == x[best];
                    ties += equal > 1;
                    want[best] += dy[((n * c + k) * oh + oy) * ow + ox];
                }
    CHECK(ties > 0);
    CHECK(dmp_got == want);

    // maxout: pieces 2k and 2k+1 of each pixel; the first on a tie.
    const std::vector<float> &pooled = gc.netc(mp), &dmo_got = gc.netc(dmo), &dy2 = gc.netc(dy_mo);
    std::vector<float> want2(pooled.size(), 0.0f);
    int group_ties = 0, pixels = oh * ow;
    for (int n = 0; n < kBatch; n++)
        for (int p = 0; p < pixels; p++) {
            int a = (n * c + 0) * pixels + p, b = (n * c + 1) * pixels + p;
            group_ties += pooled[a] == pooled[b];
            want2[pooled[b] > pooled[a] ? b : a] = dy2[n * pixels + p];
        }
    CHECK(group_ties > 0);
    CHECK(dmo_got == want2);
}

TEST_CASE("dropconnect on conv2d and dense: the step's masked weight in dx, dW masked alike") {
    GradCheck gc(model_source("3x6x6", 4,
                              "  c1: conv2d(filters=5, kernel=3, pad=1, dropconnect=0.4)\n"
                              "  t1: tanh\n"
                              "  c2: conv2d(filters=4, kernel=2, stride=2, dropconnect=0.25)\n"
                              "  s1: sigmoid\n"
                              "  flatten\n"
                              "  d1: dense(units=7, dropconnect=0.5)\n"
                              "  t2: tanh\n"
                              "  d2: dense(units=4, bias=false, dropconnect=0.3)\n"
                              "  loss softmax_cross_entropy"),
                 8);
    check_model(gc, {"c1.weight", "c1.bias", "c2.weight", "c2.bias", "d1.weight", "d1.bias",
                     "d2.weight", "d_t1_input", "d_c2_input", "d_s1_input", "d_t2_input",
                     "d_d2_input", "d_logits"});
    // No regularization: a dropped weight gets no gradient at all, a kept one (almost surely)
    // some; the mask is the forward pass's (the reference's draws of the same stream).
    for (const char *layer : {"c1", "c2", "d1", "d2"}) {
        CAPTURE(layer);
        const ParamEntry *e = gc.layout().find(std::string(layer) + ".weight");
        const Node &node = gc.graph().nodes[e->node];
        std::vector<float> ones(e->size, 1.0f);
        std::vector<double> mask = reference::dropconnect(
            ones.data(), ones.size(), node.attrs.get_float("dropconnect"), kRngKey, node.id);
        const std::vector<float> &grad = gc.netc(gc.train_graph().param_grads.at(e->name));
        int dropped = 0, kept = 0;
        for (size_t i = 0; i < mask.size(); i++) {
            if (mask[i] == 0.0) {
                dropped++;
                CHECK(grad[i] == 0.0f);
            } else {
                kept += grad[i] != 0.0f;
            }
        }
        CHECK(dropped > 0);
        CHECK(kept > 0);
    }
}

TEST_CASE("fractional_maxpool: dy to the first maximum of each of the step's regions, "
          "overlapping or not; ties") {
    GradCheck gc(model_source("2x9x11", 3,
                              "  c: conv2d(filters=3, kernel=3, pad=1)\n"
                              "  f1: fractional_maxpool(ratio=0.7)\n"
                              "  t: tanh\n"
                              "  f2: fractional_maxpool(kernel=3, output=3)\n"
                              "  flatten\n"
                              "  fc: dense(units=3)\n"
                              "  loss softmax_cross_entropy"),
                 9);
    check_model(gc, {"c.weight", "c.bias", "fc.weight", "d_f1_input", "d_t_input", "d_f2_input",
                     "d_logits"});

    // Ties: a negative shift before the relu makes whole regions of zeros.
    GradCheck ties(model_source("2x8x10", 3,
                                "  gn: groupnorm(groups=1)\n"
                                "  r: relu\n"
                                "  fp: fractional_maxpool(ratio=0.6)\n"
                                "  flatten\n"
                                "  fc: dense(units=3)\n"
                                "  loss softmax_cross_entropy"),
                   10);
    ties.fill_param("gn.bias", -1.0f);
    int r = ties.node("r"), fp = ties.node("fp"), dfp = ties.node("d_fp_input");
    int dy_fp = ties.train_graph().nodes[dfp].inputs[0];
    for (int id : {r, dy_fp}) ties.request(id);
    CheckOptions opt;
    opt.min_smooth = 0.2;
    check_model(ties, {"d_fp_input", "d_r_input"}, opt);
    // The regions of each sample's draws, the first maximum in row-major order.
    const std::vector<float> &x = ties.netc(r), &got = ties.netc(dfp), &dy = ties.netc(dy_fp);
    std::vector<float> want(x.size(), 0.0f);
    int c = 2, h = 8, w = 10, oh = 4, ow = 6, tied = 0;
    for (int n = 0; n < kBatch; n++) {
        auto [ux, uy] = reference::fractional_draws(true, kRngKey, fp, n);
        std::vector<int> xs = reference::fractional_intervals(ux, w, ow, 2);
        std::vector<int> ys = reference::fractional_intervals(uy, h, oh, 2);
        for (int k = 0; k < c; k++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    auto at = [&](int y, int xx) { return ((n * c + k) * h + y) * w + xx; };
                    int best = at(ys[oy], xs[ox]), equal = 0;
                    for (int ky = 0; ky < 2; ky++)
                        for (int kx = 0; kx < 2; kx++) {
                            int i = at(ys[oy] + ky, xs[ox] + kx);
                            if (x[i] > x[best]) best = i;
                        }
                    for (int ky = 0; ky < 2; ky++)
                        for (int kx = 0; kx < 2; kx++)
                            equal += x[at(ys[oy] + ky, xs[ox] + kx)] == x[best];
                    tied += equal > 1;
                    want[best] += dy[((n * c + k) * oh + oy) * ow + ox];
                }
    }
    CHECK(tied > 0);
    CHECK(got == want);
}

TEST_CASE("stochastic_depth on residual branches: dx = dy * keep / (1 - p) with the forward "
          "pass's draw, per sample or per batch") {
    GradCheck gc(model_source("3x5x5", 4,
                              "  stem: conv2d(filters=4, kernel=3, pad=1)\n"
                              "  c1: conv2d(filters=4, kernel=3, pad=1)\n"
                              "  t1: tanh\n"
                              "  sd1: stochastic_depth(p=0.5)\n"
                              "  b1: add(stem)\n"
                              "  c2: conv2d(filters=4, kernel=1)\n"
                              "  sd2: stochastic_depth(p=0.4, mode=batch)\n"
                              "  add(b1)\n"
                              "  gap: global_avgpool\n"
                              "  fc: dense(units=4)\n"
                              "  loss softmax_cross_entropy"),
                 11);
    int sd1 = gc.node("sd1"), sd2 = gc.node("sd2");
    int dx1 = gc.node("d_sd1_input"), dx2 = gc.node("d_sd2_input");
    int dy1 = gc.train_graph().nodes[dx1].inputs[0], dy2 = gc.train_graph().nodes[dx2].inputs[0];
    for (int id : {dy1, dy2}) gc.request(id);
    check_model(gc, {"stem.weight", "c1.weight", "c1.bias", "c2.weight", "fc.weight", "d_t1_input",
                     "d_sd1_input", "d_c2_input", "d_sd2_input", "d_logits"});
    for (auto [node, dx, dy, p, row] :
         {std::tuple{sd1, dx1, dy1, 0.5, true}, std::tuple{sd2, dx2, dy2, 0.4, false}}) {
        const std::string name = gc.train_graph().nodes[node].name;  // clang 14: no binding capture
        CAPTURE(name);
        const std::vector<float> &g = gc.netc(dx), &up = gc.netc(dy);
        size_t per = g.size() / kBatch;
        int kept = 0;
        uint32_t key = random::bits(kRngKey, (uint32_t)node);
        for (int n = 0; n < kBatch; n++) {
            bool keep = random::uniform(key, row ? (uint32_t)n : 0u) >= (float)p;
            kept += keep;
            for (size_t i = n * per; i < (n + 1) * per; i++) {
                CHECK(g[i] == (keep ? doctest::Approx(up[i] / (1 - p)).epsilon(1e-6)
                                    : doctest::Approx(0.0)));
            }
        }
        if (row) {
            INFO("the test's stream keeps some samples and drops others");
            CHECK(kept > 0);
            CHECK(kept < kBatch);
        }
    }
}

TEST_CASE("regularization: L2, L1 and elastic net on weights; biases and normalization "
          "parameters only when asked; a layer's own strength overrides the model's") {
    struct Variant {
        std::string line;
        double strength, l1_ratio;  // l1 = strength * ratio, l2 = strength * (1 - ratio)
        bool biases, norms;
    };
    const Variant variants[] = {
        {"l2(strength=0.01)", 0.01, 0.0, false, false},
        {"l1(strength=0.02, biases=true)", 0.02, 1.0, true, false},
        {"elastic_net(strength=0.05, l1_ratio=0.3, norms=true)", 0.05, 0.3, false, true},
        {"elastic_net(strength=0.04, l1_ratio=0.6, biases=true, norms=true)", 0.04, 0.6, true,
         true},
    };
    uint32_t seed = 10;
    for (const Variant &v : variants) {
        CAPTURE(v.line);
        GradCheck gc(model_source("2x3x3", 3,
                                  "  flatten\n"
                                  "  d1: dense(units=6)\n"
                                  "  bn: batchnorm\n"
                                  "  pr: prelu\n"
                                  "  d2: dense(units=3, regularize=0.03)\n"
                                  "  loss softmax_cross_entropy\n"
                                  "  regularize " +
                                      v.line,
                                  "train {\n  optimizer sgd(lr=64)\n}\n"),
                     seed++);
        const Graph &g = gc.graph();
        ExpectedReg reg;
        reg.applies = [&](const ParamEntry &e) {
            if (e.role == ParamRole::Buffer) return false;
            if (e.role == ParamRole::Bias) return v.biases;
            if (e.role == ParamRole::Norm || e.role == ParamRole::Slope) return v.norms;
            return true;
        };
        auto strength = [&](const ParamEntry &e) {
            const Node &node = g.nodes[e.node];
            return node.attrs.has("regularize") ? node.attrs.get_float("regularize") : v.strength;
        };
        reg.l1 = [&](const ParamEntry &e) { return strength(e) * v.l1_ratio; };
        reg.l2 = [&](const ParamEntry &e) { return strength(e) * (1 - v.l1_ratio); };

        // One SGD step of the real train step: g = (w - w') / lr, regularization included.
        JitModel model(g, gc.layout());
        std::vector<float> after = gc.params(),
                           state(std::max<int64_t>(model.opt_state_count(), 1));
        JitModel::StepResult step = model.train_step(after.data(), state.data(), gc.images().data(),
                                                     gc.labels().data(), kBatch, 0);
        std::map<std::string, std::vector<float>> grads;
        for (const ParamEntry &e : gc.layout().entries) {
            if (!e.trainable()) continue;
            std::vector<float> &grad = grads[e.name];
            for (int64_t i = 0; i < e.size; i++) {
                grad.push_back((gc.params()[e.offset + i] - after[e.offset + i]) / 64.0f);
            }
        }
        CheckOptions opt;
        opt.reg = &reg;
        opt.given = &grads;
        std::vector<std::string> checked = check_gradients(gc, opt);
        CHECK(checked.size() == grads.size());
        // The reported terms, apart.
        double data = gc.data_loss(gc.reference_value(g.forward_count - 1));
        CHECK(step.data_loss == doctest::Approx(data).epsilon(1e-5));
        CHECK(step.regularization ==
              doctest::Approx(reg_value(gc.layout(), reg, gc.params().data())).epsilon(1e-5));
    }
}

TEST_CASE("the oracles catch a wrong rule: tanh differentiated as 1 - y instead of 1 - y^2") {
    GradCheck gc(model_source("2x2x2", 3,
                              "  flatten\n"
                              "  d1: dense(units=5)\n"
                              "  t: tanh\n"
                              "  fc: dense(units=3)\n"
                              "  loss softmax_cross_entropy"),
                 7);
    int t = gc.node("t"), dx = gc.node("d_t_input");
    int dy = gc.train_graph().nodes[dx].inputs[0];
    gc.request(t);
    gc.request(dy);
    gc.run_netc();
    // The gradients as they are, and with d_t_input (and what it feeds, d1's weight and bias)
    // from the wrong rule.
    std::map<std::string, std::vector<float>> right, wrong;
    for (const GradTarget &target : gc.targets()) right[target.what] = gc.netc(target.grad_node);
    wrong = right;
    const std::vector<float> &y = gc.netc(t), &up = gc.netc(dy);
    std::vector<float> &bad = wrong.at("d_t_input");
    for (size_t i = 0; i < bad.size(); i++) bad[i] = up[i] * (1.0f - y[i]);
    CheckOptions opt;
    opt.given = &right;
    for (const Comparison &c : compare_gradients(gc, opt)) {
        CHECK_MESSAGE(c.fd.excess <= 1.0, c.what);
        CHECK_MESSAGE(c.adjoint.excess <= 1.0, c.what);
    }
    opt.given = &wrong;
    for (const Comparison &c : compare_gradients(gc, opt)) {
        bool corrupted = c.what == "d_t_input";
        CHECK_MESSAGE((c.fd.excess > 1.0) == corrupted, c.what);
        CHECK_MESSAGE((c.adjoint.excess > 1.0) == corrupted, c.what);
    }
}
