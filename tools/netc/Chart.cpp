#include "tools/netc/Chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace netc::cli {

double nice_step(double lo, double hi, int count) {
    const double raw = (hi - lo) / std::max(1, count);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0}) {
        if (m * magnitude >= raw * (1 - slack)) return m * magnitude;
    }
    return 10 * magnitude;
}

std::string tick_label(double value, double step) {
    if (std::abs(value) < step * slack) return "0";
    char text[32];
    if (step >= 1e-4 && std::abs(value) < 1e7) {
        const int decimals = std::max(0, (int)std::ceil(-std::log10(step) - slack));
        std::snprintf(text, sizeof text, "%.*f", decimals, value);
        return text;
    }
    // One decimal of mantissa at most: "4e-5", "1.5e-5".
    int exponent = (int)std::floor(std::log10(std::abs(value)) + slack);
    double mantissa = std::round(value / std::pow(10.0, exponent) * 10) / 10;
    if (std::abs(mantissa) >= 10) mantissa /= 10, exponent++;
    std::snprintf(text, sizeof text, mantissa == std::round(mantissa) ? "%.0fe%d" : "%.1fe%d",
                  mantissa, exponent);
    return text;
}

}  // namespace netc::cli
