#pragma once
// `netc plot FILE -o curves.png`: the curves of a training run, read from the metrics.jsonl that
// `netc train` wrote (tools/netc/Metrics.h), drawn as a PNG chart (tools/netc/Canvas.h).

#include "tools/netc/Canvas.h"
#include "tools/netc/Command.h"
#include "tools/netc/Metrics.h"

#include <optional>
#include <string>

namespace netc::cli {

struct ChartOptions {
    int width = 1000, height = 700;  // pixels
    std::string title;               // top left, e.g. the metrics file
};

/// Panels stacked over one axis of steps: the training loss; the training accuracy and the
/// validation accuracy of each epoch's end; the learning rate when the lines carry it. Axes have
/// ticks 1, 2 or 5 times a power of ten apart, with numbers, and titles; each panel a legend.
Canvas draw_chart(const Metrics &metrics, const ChartOptions &options);

/// "15 epochs, 6330 steps, best validation accuracy 0.9090 (epoch 15)".
std::string run_summary(const Metrics &metrics);

class PlotCommand : public Command {
public:
    /// Adds the `plot` subcommand to `app`.
    explicit PlotCommand(CLI::App &app);
    /// After parsing: the exit status of `plot` when it was chosen (0 success, 1 a user error),
    /// nullopt otherwise.
    std::optional<int> run() override;

private:
    int run_plot();

    CLI::App *plot_ = nullptr;
    std::string file_, output_;
    int width_ = 1000, height_ = 700;
};

}  // namespace netc::cli
