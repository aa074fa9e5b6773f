#include "compiler/LrSchedule.h"

#include "dsl/Error.h"

#include <cmath>

namespace netc {

using namespace Halide;

double base_learning_rate(const TrainSettings &train) {
    return train.optimizer.attrs.get_float("lr");
}

bool schedule_needs_total_steps(const TrainSettings &train) {
    const Choice &s = train.schedule;
    bool uses_length = s.name == "cosine" || s.name == "linear" || s.name == "polynomial";
    if (s.name == "cosine" && s.attrs.has("restart_period")) uses_length = false;
    return uses_length && !s.attrs.has("steps");
}

namespace {

/// A double-precision constant: Halide refuses implicit doubles, so schedules spell them out.
Expr f64(double x) { return Expr(x); }

}  // namespace

Expr learning_rate(const TrainSettings &train, const Expr &step, const Expr &total_steps) {
    const Choice &s = train.schedule;
    const Attrs &a = s.attrs;
    Expr lr = f64(base_learning_rate(train));
    int64_t warmup = a.get_int("warmup");
    Expr w = f64((double)warmup);
    Expr steps = a.has("steps") ? f64((double)a.get_int("steps")) : cast<double>(total_steps);
    Expr length = max(f64(1), steps - w);
    Expr t = cast<double>(step);
    Expr u = max(t - w, f64(0));
    Expr progress = min(u, length) / length;  // in [0, 1]
    auto attr = [&](const char *name) { return f64(a.get_float(name)); };
    Expr rate;
    if (s.name == "constant") {
        rate = lr;
    } else if (s.name == "step") {
        rate = lr * pow(attr("gamma"), floor(u / f64((double)a.get_int("step_size"))));
    } else if (s.name == "multistep") {
        Expr passed = f64(0);
        for (int64_t m : a.get_ints("milestones")) {
            passed += select(u >= f64((double)m), f64(1), f64(0));
        }
        rate = lr * pow(attr("gamma"), passed);
    } else if (s.name == "exponential") {
        rate = lr * pow(attr("gamma"), u);
    } else if (s.name == "polynomial") {
        Expr end = attr("end_lr");
        rate = end + (lr - end) * pow(f64(1) - progress, attr("power"));
    } else if (s.name == "cosine") {
        Expr min_lr = attr("min_lr");
        Expr position = progress;
        if (a.has("restart_period")) {
            double period = (double)a.get_int("restart_period");
            double mult = (double)a.get_int("restart_mult");
            Expr start, cycle;
            if (mult == 1) {
                cycle = f64(period);
                start = floor(u / f64(period)) * f64(period);
            } else {
                // The cycle index from logarithms can round to the wrong side of a restart
                // (log(8) / log(2) < 3), so correct it by one against the exact cycle starts.
                auto start_of = [&](const Expr &k) {
                    return round(f64(period) * (pow(f64(mult), k) - f64(1)) / f64(mult - 1));
                };
                Expr i = floor(log(u / f64(period) * f64(mult - 1) + f64(1)) / f64(std::log(mult)));
                i = select(u >= start_of(i + f64(1)), i + f64(1), u < start_of(i), i - f64(1), i);
                start = start_of(i);
                cycle = f64(period) * pow(f64(mult), i);
            }
            position = (u - start) / cycle;
        }
        rate = min_lr + (lr - min_lr) * (f64(1) + cos(f64(M_PI) * position)) / f64(2);
    } else if (s.name == "linear") {
        rate = lr * (f64(1) - (f64(1) - attr("end_factor")) * progress);
    } else if (s.name == "inverse_sqrt") {
        rate = lr * sqrt(f64((double)std::max<int64_t>(warmup, 1)) / (t + f64(1)));
    } else {
        internal_error("schedule without a lowering: " + s.name);
    }
    if (warmup > 0) rate = select(t < w, lr * (t + f64(1)) / w, rate);
    return cast<float>(rate);
}

}  // namespace netc
