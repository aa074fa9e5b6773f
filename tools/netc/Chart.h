#pragma once
// What netc's charts share (`netc plot`, tools/netc/Plot.h; `netc tune`'s figure,
// tools/netc/Tune.h): the palette, axes with ticks 1, 2 or 5 times a power of ten apart, and
// their labels.

#include "tools/netc/Canvas.h"

#include <cmath>
#include <string>
#include <vector>

namespace netc::cli {

inline constexpr Rgb background{255, 255, 255};
inline constexpr Rgb ink{40, 40, 40};                // titles
inline constexpr Rgb muted{96, 96, 96};              // tick labels, legends
inline constexpr Rgb grid{232, 232, 232};            // lines at the ticks
inline constexpr Rgb frame{150, 150, 150};           // the border of a panel
inline constexpr Rgb train_colour{31, 119, 180};     // blue
inline constexpr Rgb validation_colour{230, 97, 1};  // orange, told apart from blue by most eyes
inline constexpr Rgb lr_colour{117, 112, 179};       // purple

/// How far a value may pass a tick and still count as on it: the log's floats have 7 or so
/// significant digits (a learning rate of 0.001 reads 0.00100000005).
inline constexpr double slack = 1e-6;

/// An axis from lo to hi with a tick every `step`.
struct Axis {
    double lo = 0, hi = 1, step = 0.5;

    std::vector<double> ticks() const {
        std::vector<double> out;
        for (double k = std::ceil(lo / step - slack); k * step <= hi + step * slack; k++) {
            out.push_back(k * step);
        }
        return out;
    }
    /// Where `value` falls on a line of pixels from `from` (at lo) to `to` (at hi).
    double map(double value, double from, double to) const {
        return from + (value - lo) / (hi - lo) * (to - from);
    }
};

/// A step 1, 2 or 5 times a power of ten that cuts [lo, hi] into about `count` parts.
double nice_step(double lo, double hi, int count);

/// `value`, a tick `step` apart from its neighbours, with as many decimals as the step needs:
/// "0", "0.25", "2000", or "4e-5" for small steps.
std::string tick_label(double value, double step);

}  // namespace netc::cli
