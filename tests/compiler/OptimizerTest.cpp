// The learning-rate schedules (compiler/LrSchedule.h) and the optimizers' updates
// (compiler/Optimizer.h) against textbook formulas written independently here in double, and a
// tiny model whose loss falls at every step under each optimizer.
#include "compiler/Optimizer.h"
#include "compiler/Frontend.h"
#include "compiler/Jit.h"
#include "compiler/LrSchedule.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace netc;

namespace {

const double kPi = 3.14159265358979323846;

/// Runs the front end on a tiny model with the given train block and returns its settings.
Frontend frontend_with(const std::string &train_block) {
    std::string text = "model m {\n  input 1x2x2\n  classes 3\n  flatten\n  dense(units=3)\n}\n"
                       "train {\n" +
                       train_block + "\n}\n";
    Frontend fe = run_frontend("t.net", text);
    REQUIRE_MESSAGE(fe.ok(), fe.diags->render());
    return fe;
}

bool close(double got, double want, double rel, double abs_floor) {
    return std::abs(got - want) <= rel * std::max(std::abs(want), abs_floor);
}

// ---------------------------------------------------------------------------------------------
// Schedules

constexpr int kSteps = 301;      // steps 0..300 are realized (restarts up to 260)
constexpr int64_t kTotal = 250;  // the run's length, for schedules without `steps`

/// learning_rate(...) for steps 0..kSteps-1, realized over a Var.
std::vector<double> realize_schedule(const TrainSettings &train, int64_t total) {
    Halide::Var t("t");
    Halide::Func f("lr");
    Halide::Param<int64_t> total_p("total");
    total_p.set(total);
    f(t) = learning_rate(train, Halide::cast<int64_t>(t), total_p);
    Halide::Buffer<float> out = f.realize({kSteps});
    std::vector<double> r(kSteps);
    for (int i = 0; i < kSteps; i++) r[i] = out(i);
    return r;
}

/// Warmup wrapper: lr * (t + 1) / W for t < W, else `after(u, T)` with u = t - W and
/// T = steps - W (at least 1).
double with_warmup(double lr, int64_t warmup, int64_t steps, int64_t t,
                   const std::function<double(double, double)> &after) {
    if (t < warmup) return lr * (t + 1) / (double)warmup;
    double u = (double)(t - warmup);
    double T = std::max(1.0, (double)(steps - warmup));
    return after(u, T);
}

struct ScheduleCase {
    std::string source;  // the schedule line's choice, without warmup
    bool uses_total;     // no `steps` of its own
    std::function<double(double lr, double u, double T, int64_t warmup, int64_t t)> reference;
};

std::vector<ScheduleCase> schedule_cases() {
    std::vector<ScheduleCase> c;
    c.push_back(
        {"constant()", false, [](double lr, double, double, int64_t, int64_t) { return lr; }});
    c.push_back(
        {"step(step_size=30, gamma=0.5)", false, [](double lr, double u, double, int64_t, int64_t) {
             return lr * std::pow(0.5, std::floor(u / 30));
         }});
    c.push_back({"multistep(milestones=[40, 90, 150], gamma=0.3)", false,
                 [](double lr, double u, double, int64_t, int64_t) {
                     int passed = (u >= 40) + (u >= 90) + (u >= 150);
                     return lr * std::pow(0.3, passed);
                 }});
    c.push_back(
        {"exponential(gamma=0.98)", false,
         [](double lr, double u, double, int64_t, int64_t) { return lr * std::pow(0.98, u); }});
    c.push_back({"polynomial(power=2, end_lr=0.001, steps=150)", false,
                 [](double lr, double u, double T, int64_t, int64_t) {
                     return 0.001 + (lr - 0.001) * std::pow(1 - std::min(u, T) / T, 2.0);
                 }});
    c.push_back(
        {"polynomial(power=0.5)", true, [](double lr, double u, double T, int64_t, int64_t) {
             return lr * std::pow(1 - std::min(u, T) / T, 0.5);
         }});
    c.push_back({"cosine(min_lr=0.001, steps=150)", false,
                 [](double lr, double u, double T, int64_t, int64_t) {
                     return 0.001 + (lr - 0.001) * (1 + std::cos(kPi * std::min(u, T) / T)) / 2;
                 }});
    c.push_back({"cosine()", true, [](double lr, double u, double T, int64_t, int64_t) {
                     return lr * (1 + std::cos(kPi * std::min(u, T) / T)) / 2;
                 }});
    // SGDR: walk the cycles one by one.
    for (int mult : {1, 2, 3}) {
        c.push_back(
            {"cosine(min_lr=0.0005, restart_period=20, restart_mult=" + std::to_string(mult) + ")",
             false, [mult](double lr, double u, double, int64_t, int64_t) {
                 double start = 0, len = 20;
                 while (u >= start + len) {
                     start += len;
                     len *= mult;
                 }
                 return 0.0005 + (lr - 0.0005) * (1 + std::cos(kPi * (u - start) / len)) / 2;
             }});
    }
    c.push_back({"linear(end_factor=0.1, steps=120)", false,
                 [](double lr, double u, double T, int64_t, int64_t) {
                     return lr * (1 - 0.9 * std::min(u, T) / T);
                 }});
    c.push_back({"linear()", true, [](double lr, double u, double T, int64_t, int64_t) {
                     return lr * (1 - std::min(u, T) / T);
                 }});
    c.push_back({"inverse_sqrt()", false, [](double lr, double, double, int64_t warmup, int64_t t) {
                     return lr * std::sqrt(std::max<double>((double)warmup, 1) / (double)(t + 1));
                 }});
    return c;
}

}  // namespace

TEST_CASE("schedules: every schedule, with and without warmup, against its formula over 0..300") {
    const double lr = 0.05;
    for (const ScheduleCase &sc : schedule_cases()) {
        for (int64_t warmup : {0, 10}) {
            std::string choice = sc.source;
            if (warmup > 0) {
                std::string arg = "warmup=" + std::to_string(warmup);
                choice.insert(
                    choice.size() - 1,
                    choice.back() == ')' && choice[choice.size() - 2] == '(' ? arg : ", " + arg);
            }
            CAPTURE(choice);
            Frontend fe = frontend_with("optimizer sgd(lr=0.05)\nschedule " + choice);
            const TrainSettings &train = fe.graph->train;
            CHECK(schedule_needs_total_steps(train) == sc.uses_total);
            CHECK(base_learning_rate(train) == doctest::Approx(lr));
            int64_t steps =
                train.schedule.attrs.has("steps") ? train.schedule.attrs.get_int("steps") : kTotal;
            std::vector<double> got = realize_schedule(train, kTotal);
            int bad = 0;
            for (int64_t t = 0; t < kSteps; t++) {
                double want = with_warmup(lr, warmup, steps, t, [&](double u, double T) {
                    return sc.reference(lr, u, T, warmup, t);
                });
                if (!close(got[t], want, 1e-6, 1e-9)) {
                    if (bad++ < 5) {
                        FAIL_CHECK("step " << t << ": got " << got[t] << ", want " << want);
                    }
                }
            }
            CHECK(bad == 0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Optimizers

namespace {

struct OptState {
    std::vector<double> s0, s1;
};

/// PyTorch's updates, in double, for one element; attrs as written in the .net source.
struct RefOptimizer {
    std::string name;
    double lr, rho = 0.9, eps = 0, decay = 0, b1 = 0, b2 = 0, wd = 0;

    void update(double &w, double g, double &s0, double &s1, int64_t step) const {
        if (name == "sgd") {
            w -= lr * g;
        } else if (name == "momentum") {
            s0 = rho * s0 + g;
            w -= lr * s0;
        } else if (name == "nesterov") {
            s0 = rho * s0 + g;
            w -= lr * (g + rho * s0);
        } else if (name == "adagrad") {
            s0 += g * g;
            w -= lr * g / (std::sqrt(s0) + eps);
        } else if (name == "rmsprop") {
            s0 = decay * s0 + (1 - decay) * g * g;
            w -= lr * g / (std::sqrt(s0) + eps);
        } else {  // adam, adamw (torch.optim.AdamW: decay on the old w first)
            if (name == "adamw") w *= 1 - lr * wd;
            s0 = b1 * s0 + (1 - b1) * g;
            s1 = b2 * s1 + (1 - b2) * g * g;
            double t = (double)(step + 1);
            double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
            double denom = std::sqrt(s1) / std::sqrt(c2) + eps;
            w -= lr / c1 * s0 / denom;
        }
    }
};

struct OptCase {
    std::string source;
    RefOptimizer ref;
};

std::vector<OptCase> opt_cases() {
    return {
        {"sgd(lr=0.1)", {"sgd", 0.1}},
        {"momentum(lr=0.05, rho=0.8)", {"momentum", 0.05, 0.8}},
        {"nesterov(lr=0.05, rho=0.7)", {"nesterov", 0.05, 0.7}},
        {"adagrad(lr=0.1, eps=1e-3)", {"adagrad", 0.1, 0, 1e-3}},
        {"rmsprop(lr=0.01, decay=0.9, eps=1e-4)", {"rmsprop", 0.01, 0, 1e-4, 0.9}},
        {"adam(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-4)", {"adam", 0.01, 0, 1e-4, 0, 0.8, 0.95}},
        {"adamw(lr=0.01, beta1=0.85, beta2=0.99, eps=1e-5, weight_decay=0.1)",
         {"adamw", 0.01, 0, 1e-5, 0, 0.85, 0.99, 0.1}},
    };
}

}  // namespace

TEST_CASE("optimizers: every update against PyTorch's formula over several steps") {
    const std::vector<double> w0 = {0.5, -1.25, 2.0, 0.0, 3e-3, -0.75};
    const std::vector<double> g0 = {0.1, -0.3, 1.5, -2e-3, 0.7, 0.0};
    const int n = (int)w0.size();
    const int steps = 6;
    for (const OptCase &oc : opt_cases()) {
        CAPTURE(oc.source);
        Frontend fe = frontend_with("optimizer " + oc.source);
        const Choice &opt = fe.graph->train.optimizer;
        const RefOptimizer &ref = oc.ref;
        int slots = optimizer_state_slots(opt);
        int want_slots = ref.name == "sgd"                             ? 0
                         : (ref.name == "adam" || ref.name == "adamw") ? 2
                                                                       : 1;
        REQUIRE(slots == want_slots);

        Halide::ImageParam w_in(Halide::Float(32), 1, "w"), g_in(Halide::Float(32), 1, "g");
        std::vector<Halide::ImageParam> s_in;
        for (int s = 0; s < slots; s++)
            s_in.emplace_back(Halide::Float(32), 1, s == 0 ? "s0" : "s1");
        Halide::Param<float> lr_p("lr");
        Halide::Param<int64_t> step_p("step");
        Halide::Var x("x");
        std::vector<Halide::Expr> state;
        for (auto &s : s_in) state.push_back(s(x));
        OptimizerUpdate up = optimizer_update(opt, w_in(x), g_in(x), state, lr_p, step_p);
        REQUIRE((int)up.state.size() == slots);
        std::vector<Halide::Expr> outs = {up.w};
        outs.insert(outs.end(), up.state.begin(), up.state.end());
        Halide::Func f("update");
        if (outs.size() == 1) {
            f(x) = outs[0];
        } else {
            f(x) = Halide::Tuple(outs);
        }
        f.compile_jit();

        Halide::Buffer<float> w_buf(n), g_buf(n);
        std::vector<Halide::Buffer<float>> s_buf;
        for (int s = 0; s < slots; s++) {
            s_buf.emplace_back(n);
            s_buf.back().fill(0.0f);
        }
        std::vector<double> rw = w0, rs0(n, 0.0), rs1(n, 0.0);
        for (int i = 0; i < n; i++) w_buf(i) = (float)w0[i];
        for (int step = 0; step < steps; step++) {
            // Gradients that change in size and sign from step to step.
            std::vector<double> g(n);
            for (int i = 0; i < n; i++) {
                g[i] = g0[i] * (1 + 0.3 * step) * (step % 3 == 2 ? -1 : 1) + 0.05 * (i - 2);
                g_buf(i) = (float)g[i];
                g[i] = (double)(float)g[i];  // the same gradient on both sides
            }
            w_in.set(w_buf);
            g_in.set(g_buf);
            for (int s = 0; s < slots; s++) s_in[s].set(s_buf[s]);
            lr_p.set((float)ref.lr);
            step_p.set(step);
            Halide::Buffer<float> nw(n);
            std::vector<Halide::Buffer<float>> ns;
            for (int s = 0; s < slots; s++) ns.emplace_back(n);
            if (slots == 0) {
                f.realize(nw);
            } else {
                std::vector<Halide::Buffer<>> bufs = {nw};
                for (auto &b : ns) bufs.push_back(b);
                f.realize(Halide::Realization(bufs));
            }
            for (int i = 0; i < n; i++) ref.update(rw[i], g[i], rs0[i], rs1[i], step);
            for (int i = 0; i < n; i++) {
                CAPTURE(step);
                CAPTURE(i);
                CHECK_MESSAGE(close(nw(i), rw[i], 2e-6, 1e-3),
                              "w: got " << nw(i) << ", want " << rw[i]);
                if (slots >= 1)
                    CHECK_MESSAGE(close(ns[0](i), rs0[i], 2e-6, 1e-3),
                                  "s0: got " << ns[0](i) << ", want " << rs0[i]);
                if (slots >= 2)
                    CHECK_MESSAGE(close(ns[1](i), rs1[i], 2e-6, 1e-6),
                                  "s1: got " << ns[1](i) << ", want " << rs1[i]);
            }
            w_buf = nw;
            for (int s = 0; s < slots; s++) s_buf[s] = ns[s];
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Training a tiny model

TEST_CASE("train step: the loss on a fixed batch falls at every one of 50 steps, per optimizer") {
    // A 16-8-3 MLP on 12 fixed random samples, constant schedule. The rates are chosen so that
    // no optimizer overshoots on this full batch: the momentum methods and Adam with modest
    // rates (heavy momentum or large Adam steps legitimately oscillate on a fixed batch).
    const std::vector<std::string> optimizers = {
        "sgd(lr=0.1)",
        "momentum(lr=0.02, rho=0.9)",
        "nesterov(lr=0.02, rho=0.9)",
        "adagrad(lr=0.05)",
        "rmsprop(lr=0.002)",
        "adam(lr=0.005)",
        "adamw(lr=0.005, weight_decay=0.01)",
    };
    const int batch = 12, features = 16;
    std::mt19937 rng(1234);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> images(batch * features);
    for (float &v : images) v = normal(rng);
    std::vector<int32_t> labels(batch);
    for (int i = 0; i < batch; i++) labels[i] = i % 3;

    for (const std::string &opt : optimizers) {
        CAPTURE(opt);
        std::string text = "model tiny {\n  input 1x4x4\n  classes 3\n  flatten\n"
                           "  dense(units=8)\n  relu\n  dense(units=3)\n"
                           "  loss softmax_cross_entropy\n}\n"
                           "train {\n  optimizer " +
                           opt + "\n  schedule constant()\n}\n";
        Frontend fe = run_frontend("tiny.net", text);
        REQUIRE_MESSAGE(fe.ok(), fe.diags->render());
        JitModel model(*fe.graph, fe.layout);
        std::vector<float> params(fe.layout.total);
        model.init(7, params.data());
        std::vector<float> state(model.opt_state_count(), 0.0f);
        model.set_total_steps(50);
        std::vector<float> loss;
        for (int step = 0; step <= 50; step++) {
            JitModel::StepResult r = model.train_step(params.data(), state.data(), images.data(),
                                                      labels.data(), batch, step);
            loss.push_back(r.data_loss + r.regularization);
        }
        for (int t = 0; t < 50; t++) {
            CAPTURE(t);
            CHECK_MESSAGE(loss[t + 1] < loss[t], "loss " << loss[t] << " -> " << loss[t + 1]);
        }
        CHECK(loss[50] < 0.9f * loss[0]);
    }
}
