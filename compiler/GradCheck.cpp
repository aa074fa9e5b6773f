#include "compiler/GradCheck.h"

#include "compiler/DeriveBackward.h"
#include "compiler/Jit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <random>

namespace netc {

namespace {

/// Up to `count` distinct indices of [0, size), in increasing order.
std::vector<int64_t> sample_indices(int64_t size, int count, std::mt19937_64 &rng) {
    std::vector<int64_t> all;
    if (size <= count) {
        for (int64_t i = 0; i < size; i++) all.push_back(i);
        return all;
    }
    std::uniform_int_distribution<int64_t> pick(0, size - 1);
    while ((int)all.size() < count) {
        int64_t i = pick(rng);
        if (std::find(all.begin(), all.end(), i) == all.end()) all.push_back(i);
    }
    std::sort(all.begin(), all.end());
    return all;
}

/// |a - b| less `slack` (never below 0), relative to the larger of the two and 0.01.
double relative_error(double a, double b, double slack = 0) {
    return std::max(0.0, std::fabs(a - b) - slack) / std::max({std::fabs(a), std::fabs(b), 1e-2});
}

/// Checks entries of one tensor that lives at `values + offset`; `loss` evaluates the loss.
TensorCheck check_tensor(const std::string &name, float *values, int64_t size,
                         const float *analytic, const GradCheckOptions &options,
                         std::mt19937_64 &rng, const std::function<double()> &loss) {
    TensorCheck t;
    t.name = name;
    // One-sided slopes over [w - h, w] and [w, w + h], with the steps actually taken in float.
    auto slopes = [&](float *value, double h, double base, double &left, double &right) {
        float original = *value;
        float up = (float)(original + h), down = (float)(original - h);
        *value = up;
        double plus = loss();
        *value = down;
        double minus = loss();
        *value = original;
        left = (base - minus) / (double(original) - double(down));
        right = (plus - base) / (double(up) - double(original));
    };
    double base = loss();
    for (int64_t i : sample_indices(size, options.samples, rng)) {
        // A smooth loss has nearly the same slope on both sides of the point; a kink within
        // the step (relu at 0, a maxpool switch, the hinge at its margin) does not. Narrower
        // steps get closer to the point, until float rounding would dominate.
        // Two steps in a row must agree with themselves and with each other, so a kink that
        // happens to bend both sides alike is not mistaken for a smooth point.
        double numeric = 0, previous = 0, step = options.step;
        bool smooth = false, previous_smooth = false;
        for (double h = options.step; h >= options.step / 256 && !smooth; h /= 4) {
            step = h;
            double left = 0, right = 0;
            slopes(values + i, h, base, left, right);
            numeric = (left + right) / 2;
            // Well inside the threshold, so a kink's bend that float rounding half hides does
            // not pass for a smooth point and then show up as a gradient error.
            bool here = relative_error(left, right) <= options.threshold / 4;
            smooth = here && previous_smooth &&
                     relative_error(numeric, previous) <= options.threshold / 4;
            previous = numeric;
            previous_smooth = here;
        }
        double a = analytic[i];
        // The loss is a float: each evaluation is off by a few units in its last place, and
        // the difference quotient by that over the step. Only the part of the disagreement
        // rounding cannot explain counts (a change of summation order in a product moved
        // numeric slopes of 0.013 by 1e-4 at the smaller steps, with the analytic unchanged).
        double rounding = 8 * FLT_EPSILON * std::max(std::fabs(base), 1.0) / step;
        if (!smooth) {
            t.skipped++;
            continue;
        }
        t.checked++;
        double e = relative_error(a, numeric, rounding);
        if (e > t.max_error) {
            t.max_error = e;
            t.worst_index = i;
            t.worst_analytic = a;
            t.worst_numeric = numeric;
        }
    }
    return t;
}

}  // namespace

bool GradCheckReport::passed(double threshold) const {
    for (const TensorCheck &t : tensors) {
        if (t.max_error > threshold) return false;
    }
    return true;
}

GradCheckReport gradcheck(const Graph &graph, const ParamLayout &layout,
                          const GradCheckOptions &options) {
    JitModel model(graph, layout);
    model.set_total_steps(1000);
    std::mt19937_64 rng(options.seed);
    int batch = options.batch;
    std::vector<float> params(layout.total);
    model.init(options.seed, params.data());
    std::vector<float> images((size_t)graph.input.elements() * batch);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    for (float &v : images) v = pixel(rng);
    std::vector<int32_t> labels(batch);
    std::uniform_int_distribution<int32_t> label(0, (int32_t)graph.classes - 1);
    for (int32_t &l : labels) l = label(rng);
    const int64_t step = 1;  // fixes the dropout masks for every evaluation

    JitModel::Gradient g =
        model.gradient_check(params.data(), images.data(), labels.data(), batch, step);
    auto loss = [&] {
        JitModel::StepResult r =
            model.loss(params.data(), images.data(), labels.data(), batch, step);
        return (double)r.data_loss + (double)r.regularization;
    };
    GradCheckReport report;
    report.data_loss = g.losses.data_loss;
    report.regularization = g.losses.regularization;
    for (const ParamEntry &e : layout.entries) {
        if (!e.trainable()) continue;
        report.tensors.push_back(check_tensor(e.name, params.data() + e.offset, e.size,
                                              g.params.data() + e.offset, options, rng, loss));
    }
    // A feature op (hog, color_histogram) passes no gradient to the image: nothing to check.
    if (has_image_gradient(graph)) {
        report.tensors.push_back(check_tensor("input", images.data(), (int64_t)images.size(),
                                              g.images.data(), options, rng, loss));
    }
    return report;
}

std::string format_report(const Graph &graph, const GradCheckReport &report,
                          const GradCheckOptions &options) {
    std::string out = fmt::format(
        "gradcheck {}: batch {}, up to {} entries per tensor, step {:g}, loss {:.6f} "
        "(data {:.6f} + regularization {:.6f})\n",
        graph.model, options.batch, options.samples, options.step,
        report.data_loss + report.regularization, report.data_loss, report.regularization);
    out += fmt::format("{:<24} {:>8} {:>8} {:>12}   {}\n", "tensor", "checked", "skipped",
                       "max rel err", "worst entry (analytic vs numeric)");
    for (const TensorCheck &t : report.tensors) {
        std::string worst = t.worst_index < 0 ? "-"
                                              : fmt::format("[{}] {:.6g} vs {:.6g}", t.worst_index,
                                                            t.worst_analytic, t.worst_numeric);
        out += fmt::format("{:<24} {:>8} {:>8} {:>12.3e}   {}\n", t.name, t.checked, t.skipped,
                           t.max_error, worst);
    }
    std::string unchecked;
    for (const TensorCheck &t : report.tensors) {
        if (t.checked == 0) unchecked += (unchecked.empty() ? "" : ", ") + t.name;
    }
    if (!unchecked.empty()) {
        out += "note: every sampled entry of " + unchecked +
               " sat within a step of a kink; try --batch 1 or more --samples\n";
    }
    out += report.passed(options.threshold)
               ? fmt::format("passed: every error is below {:g}\n", options.threshold)
               : fmt::format("FAILED: errors above {:g}\n", options.threshold);
    return out;
}

}  // namespace netc
