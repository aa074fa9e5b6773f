#include "tools/netc/Plot.h"

#include "runtime/Files.h"
#include "tools/netc/Chart.h"
#include "tools/netc/PlotFont.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace netc::cli {

namespace {

using Points = std::vector<std::pair<double, double>>;  // (x, y)

struct Series {
    std::string label;  // in the legend; none when empty
    Rgb colour;
    Points points;         // (step, value), finite values only, by step
    bool markers = false;  // a dot on every point, for values taken once an epoch
};

struct Panel {
    std::string axis_title;
    std::string short_title;     // the axis title when the panel is too short for it
    std::vector<Series> series;  // those with points are drawn and in the legend
    double weight = 1;           // its share of the height, against the other panels'
    bool unit_interval = false;  // an accuracy: its axis stays within [0, 1]
    bool from_zero = false;      // its axis starts at 0 (or below)
};

/// [x0, x1) x [y0, y1) in pixels.
struct Rect {
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

/// The steps axis: from 0 to the last step, ticks on whole steps.
Axis step_axis(const std::vector<Panel> &panels, int count) {
    double last = 0;
    for (const Panel &p : panels) {
        for (const Series &s : p.series) {
            for (const auto &[x, y] : s.points) last = std::max(last, x);
        }
    }
    Axis axis{.lo = 0, .hi = std::max(last, 1.0)};
    axis.step = std::max(1.0, nice_step(axis.lo, axis.hi, count));
    return axis;
}

/// A panel's value axis: the range of its values, widened to whole ticks.
Axis value_axis(const Panel &panel, int count) {
    double lo = INFINITY, hi = -INFINITY;
    for (const Series &s : panel.series) {
        for (const auto &[x, y] : s.points) {
            lo = std::min(lo, y);
            hi = std::max(hi, y);
        }
    }
    if (lo > hi) lo = 0, hi = 1;  // no values
    const bool within_unit = lo >= 0 && hi <= 1;
    if (panel.from_zero) lo = std::min(lo, 0.0);
    if (lo == hi) {
        const double pad = lo != 0 ? std::abs(lo) / 2 : 1;
        lo -= pad;
        hi += pad;
    }
    Axis axis;
    axis.step = nice_step(lo, hi, count);
    axis.lo = std::floor(lo / axis.step + slack) * axis.step;
    axis.hi = std::ceil(hi / axis.step - slack) * axis.step;
    // A curve along the frame is hard to see: one more tick where the values reach the edge.
    const double edge = (axis.hi - axis.lo) / 50;
    if (lo < axis.lo + edge && !(panel.from_zero && axis.lo == 0)) axis.lo -= axis.step;
    if (hi > axis.hi - edge) axis.hi += axis.step;
    if (panel.unit_interval && within_unit) {
        axis.lo = std::max(axis.lo, 0.0);
        axis.hi = std::min(axis.hi, 1.0);
    }
    return axis;
}

std::string fixed(double x, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, x);
    return text;
}

/// The curves to draw: loss; accuracy; the learning rate when the lines carry it.
std::vector<Panel> make_panels(const Metrics &metrics) {
    Series train_loss{.label = "train", .colour = train_colour, .points = {}};
    Series train_accuracy{.label = "train", .colour = train_colour, .points = {}};
    Series validation{
        .label = "validation", .colour = validation_colour, .points = {}, .markers = true};
    Series lr{.label = "", .colour = lr_colour, .points = {}};  // the axis title says it all
    auto add = [](Series &s, int64_t step, double value) {
        if (std::isfinite(value)) s.points.emplace_back((double)step, value);
    };
    for (const IntervalMetrics &m : metrics.intervals) {
        add(train_loss, m.step, m.loss);
        add(train_accuracy, m.step, m.accuracy);
        add(lr, m.step, m.lr);
    }
    for (const EpochMetrics &m : metrics.epochs) {
        // Without interval lines, the epochs' means are the training curves.
        if (metrics.intervals.empty()) {
            add(train_loss, m.step, m.loss);
            add(train_accuracy, m.step, m.accuracy);
        }
        add(validation, m.step, m.val_accuracy);
    }
    std::vector<Panel> panels = {
        {.axis_title = "loss", .short_title = "loss", .series = {train_loss}},
        {.axis_title = "accuracy",
         .short_title = "acc",
         .series = {train_accuracy, validation},
         .unit_interval = true},
    };
    if (!lr.points.empty()) {
        panels.push_back({.axis_title = "learning rate",
                          .short_title = "lr",
                          .series = {lr},
                          .weight = 0.45,
                          .from_zero = true});
    }
    return panels;
}

/// Pixels along the series' lines, one every 2 pixels or so, to find where a legend hides least.
int count_inside(const std::vector<Points> &lines, Rect r) {
    int count = 0;
    for (const Points &line : lines) {
        for (size_t i = 0; i < line.size(); i++) {
            const auto [ax, ay] = line[i];
            const auto [bx, by] = line[i + 1 < line.size() ? i + 1 : i];
            const int samples = 1 + (int)(std::hypot(bx - ax, by - ay) / 2);
            for (int k = 0; k < samples; k++) {
                const double x = ax + (bx - ax) * k / samples, y = ay + (by - ay) * k / samples;
                count += x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1;
            }
        }
    }
    return count;
}

/// A swatch and the label of each series with points, boxed, in the corner of `area` where it
/// covers the fewest of `lines` (top right when that is free).
void draw_legend(Canvas &canvas, const Panel &panel, const std::vector<Points> &lines, Rect area,
                 int s) {
    std::vector<const Series *> shown;
    int label_width = 0;
    for (const Series &series : panel.series) {
        if (series.points.empty() || series.label.empty()) continue;
        shown.push_back(&series);
        label_width = std::max(label_width, Canvas::text_width(series.label, s));
    }
    if (shown.empty()) return;
    const int pad = 6 * s, swatch = 20 * s, row = Canvas::text_height(s) + 4 * s;
    const int width = pad + swatch + pad + label_width + pad;
    const int height = pad + (int)shown.size() * row - 4 * s + pad;
    const int inset = 8 * s;
    Rect best;
    int best_count = -1;
    for (const bool top : {true, false}) {
        for (const bool right : {true, false}) {
            Rect r;
            r.x0 = right ? area.x1 - inset - width : area.x0 + inset;
            r.y0 = top ? area.y0 + inset : area.y1 - inset - height;
            r.x1 = r.x0 + width;
            r.y1 = r.y0 + height;
            const int count = count_inside(lines, {r.x0 - pad, r.y0 - pad, r.x1 + pad, r.y1 + pad});
            if (best_count < 0 || count < best_count) best = r, best_count = count;
        }
    }
    canvas.fill_rect(best.x0, best.y0, best.x1, best.y1, background);
    canvas.fill_rect(best.x0, best.y0, best.x1, best.y0 + 1, grid);
    canvas.fill_rect(best.x0, best.y1 - 1, best.x1, best.y1, grid);
    canvas.fill_rect(best.x0, best.y0, best.x0 + 1, best.y1, grid);
    canvas.fill_rect(best.x1 - 1, best.y0, best.x1, best.y1, grid);
    for (size_t i = 0; i < shown.size(); i++) {
        const int top = best.y0 + pad + (int)i * row;
        const double middle = top + font_ascent * s / 2.0;
        const double left = best.x0 + pad, right = left + swatch;
        canvas.polyline({{left, middle}, {right, middle}}, 2.0 * s, shown[i]->colour);
        if (shown[i]->markers) canvas.disc((left + right) / 2, middle, 3.5 * s, shown[i]->colour);
        canvas.text((int)right + pad, top, shown[i]->label, muted, s);
    }
}

/// One panel in `r`: grid, frame, value ticks and title, the curves, the legend.
void draw_panel(Canvas &canvas, const Panel &panel, const Axis &x, const Axis &y, Rect r,
                int title_x, int s) {
    auto px = [&](double step) { return x.map(step, r.x0 + 0.5, r.x1 - 0.5); };
    auto py = [&](double value) { return y.map(value, r.y1 - 0.5, r.y0 + 0.5); };
    for (double t : x.ticks()) {
        const int at = (int)std::floor(px(t));
        canvas.fill_rect(at, r.y0, at + s, r.y1, grid);
    }
    const int tick = 4 * s, label_gap = 4 * s;
    for (double t : y.ticks()) {
        const int at = (int)std::floor(py(t));
        canvas.fill_rect(r.x0, at, r.x1, at + s, grid);
        canvas.fill_rect(r.x0 - tick, at, r.x0, at + s, frame);
        const std::string label = tick_label(t, y.step);
        canvas.text(r.x0 - tick - label_gap - Canvas::text_width(label, s),
                    at - font_ascent * s / 2, label, muted, s);
    }
    canvas.fill_rect(r.x0, r.y0, r.x1, r.y0 + s, frame);
    canvas.fill_rect(r.x0, r.y1 - s, r.x1, r.y1, frame);
    canvas.fill_rect(r.x0, r.y0, r.x0 + s, r.y1, frame);
    canvas.fill_rect(r.x1 - s, r.y0, r.x1, r.y1, frame);
    const int middle = (r.y0 + r.y1) / 2;
    const std::string &title = Canvas::text_width(panel.axis_title, s) <= r.y1 - r.y0
                                   ? panel.axis_title
                                   : panel.short_title;
    canvas.text_up(title_x, middle + Canvas::text_width(title, s) / 2, title, ink, s);

    // Curves may reach a little past the frame (a marker on the last step), not into the labels.
    const int margin = 6 * s;
    canvas.clip(r.x0 - margin, r.y0 - margin, r.x1 + margin, r.y1 + margin);
    std::vector<Points> lines;
    bool any = false;
    for (const Series &series : panel.series) {
        Points line;
        for (const auto &[step, value] : series.points) line.emplace_back(px(step), py(value));
        canvas.polyline(line, (series.markers ? 2.0 : 1.6) * s, series.colour);
        if (series.markers || line.size() == 1) {
            for (const auto &[cx, cy] : line) {
                canvas.disc(cx, cy, 4.5 * s, background);
                canvas.disc(cx, cy, 3.2 * s, series.colour);
            }
        }
        any |= !line.empty();
        lines.push_back(std::move(line));
    }
    canvas.unclip();
    if (!any) {
        const std::string none = "no values in the file";
        canvas.text((r.x0 + r.x1 - Canvas::text_width(none, s)) / 2, middle - font_ascent * s / 2,
                    none, muted, s);
    }
    draw_legend(canvas, panel, lines, r, s);
}

}  // namespace

std::string run_summary(const Metrics &metrics) {
    int64_t epochs = 0, steps = 0;
    for (const IntervalMetrics &m : metrics.intervals) {
        epochs = std::max(epochs, m.epoch);
        steps = std::max(steps, m.step);
    }
    double best = -1;
    int64_t best_epoch = 0;
    for (const EpochMetrics &m : metrics.epochs) {
        epochs = std::max(epochs, m.epoch);
        steps = std::max(steps, m.step);
        if (std::isfinite(m.val_accuracy) && m.val_accuracy > best) {
            best = m.val_accuracy;
            best_epoch = m.epoch;
        }
    }
    std::string summary = std::to_string(epochs) + (epochs == 1 ? " epoch, " : " epochs, ") +
                          std::to_string(steps) + (steps == 1 ? " step" : " steps");
    if (best >= 0) {
        summary += ", best validation accuracy " + fixed(best, 4) + " (epoch " +
                   std::to_string(best_epoch) + ")";
    }
    return summary;
}

Canvas draw_chart(const Metrics &metrics, const ChartOptions &options) {
    const int width = options.width, height = options.height;
    // Text and lines grow with the picture: 1 font pixel per screen pixel up to twice the
    // default size.
    const int s = std::max(1, std::min(width / 1000, height / 700));
    Canvas canvas(width, height, background);
    std::vector<Panel> panels = make_panels(metrics);

    const int pad = 16 * s, text_h = Canvas::text_height(s), line_gap = 6 * s;
    const int top = pad + text_h + 2 * line_gap;
    const int bottom = height - pad - text_h - line_gap - text_h - line_gap;
    const int panel_gap = 20 * s;
    double weights = 0;
    for (const Panel &p : panels) weights += p.weight;
    const int heights = bottom - top - panel_gap * (int)(panels.size() - 1);

    // The value axes first: their labels decide the left margin.
    std::vector<Axis> value_axes;
    int label_width = 0;
    for (const Panel &p : panels) {
        const int h = (int)(heights * p.weight / weights);
        value_axes.push_back(value_axis(p, std::max(2, h / (36 * s))));
        for (double t : value_axes.back().ticks()) {
            label_width =
                std::max(label_width, Canvas::text_width(tick_label(t, value_axes.back().step), s));
        }
    }
    const int left = pad + text_h + 3 * line_gap + label_width + 4 * s;
    const int right = width - pad - 12 * s;  // room for the last step's label, centred on its tick
    const Axis x = step_axis(panels, std::max(2, (right - left) / (90 * s)));

    // The title: the file on the left, the run on the right, the file shortened from its start
    // when both do not fit; the run left out when it alone does not.
    std::string summary = run_summary(metrics);
    if (Canvas::text_width(summary, s) > right - pad) summary.clear();
    const int summary_x = right - Canvas::text_width(summary, s);
    std::string title = options.title;
    const int room = (summary_x - pad) / (font_advance * s) - 4;  // characters, 4 spare
    if ((int)title.size() > room) {
        title = room > 3 ? "..." + title.substr(title.size() - (size_t)(room - 3)) : "";
    }
    canvas.text(pad, pad, title, ink, s);
    canvas.text(summary_x, pad, summary, muted, s);

    Rect r{left, top, right, top};
    for (size_t i = 0; i < panels.size(); i++) {
        const int h = (int)(heights * panels[i].weight / weights);
        r = {left, i == 0 ? top : r.y1 + panel_gap, right, 0};
        r.y1 = r.y0 + h;
        draw_panel(canvas, panels[i], x, value_axes[i], r, pad, s);
    }
    // The steps axis under the last panel.
    for (double t : x.ticks()) {
        const int at = (int)std::floor(x.map(t, r.x0 + 0.5, r.x1 - 0.5));
        canvas.fill_rect(at, r.y1, at + s, r.y1 + 4 * s, frame);
        const std::string label = tick_label(t, x.step);
        canvas.text(at - Canvas::text_width(label, s) / 2, r.y1 + line_gap, label, muted, s);
    }
    const std::string axis_title = "step";
    canvas.text((r.x0 + r.x1 - Canvas::text_width(axis_title, s)) / 2,
                r.y1 + line_gap + text_h + line_gap, axis_title, ink, s);
    return canvas;
}

PlotCommand::PlotCommand(CLI::App &app) {
    plot_ = app.add_subcommand("plot", "draw the loss, accuracy and learning-rate curves of a "
                                       "training run (its metrics.jsonl) as a PNG");
    plot_->add_option("FILE", file_, "DIR/metrics.jsonl from netc train, or DIR")->required();
    plot_->add_option("-o,--output", output_,
                      "the PNG file to write (default: curves.png beside FILE)");
    plot_->add_option("--width", width_, "image width in pixels")
        ->capture_default_str()
        ->check(CLI::Range(400, 4000));
    plot_->add_option("--height", height_, "image height in pixels")
        ->capture_default_str()
        ->check(CLI::Range(300, 4000));
}

std::optional<int> PlotCommand::run() {
    if (*plot_) return run_plot();
    return std::nullopt;
}

int PlotCommand::run_plot() {
    std::string path = file_;
    if (runtime::is_directory(path)) path = runtime::join_path(path, "metrics.jsonl");
    std::string output = output_;
    if (output.empty()) {
        const size_t slash = path.rfind('/');
        output =
            slash == std::string::npos ? "curves.png" : path.substr(0, slash + 1) + "curves.png";
    }
    const std::string extension = ".png";
    if (output.size() < extension.size() ||
        output.compare(output.size() - extension.size(), extension.size(), extension) != 0) {
        return user_error(output + ": netc plot writes PNG; name the file .png");
    }
    runtime::Result<Metrics> metrics = read_metrics(path);
    if (!metrics) {
        std::cerr << metrics.message() << "\n";
        return exit_user_error;
    }
    for (const std::string &warning : metrics->warnings) std::cerr << warning << "\n";
    const Canvas chart = draw_chart(*metrics, {.width = width_, .height = height_, .title = path});
    const std::vector<uint8_t> png = chart.png();
    runtime::Status written = runtime::write_file_atomically(
        output, [&](const runtime::ByteSink &sink) { sink(png.data(), png.size()); });
    if (!written) return user_error(written.message());
    std::cout << output << ": " << run_summary(*metrics) << "\n";
    return 0;
}

}  // namespace netc::cli
