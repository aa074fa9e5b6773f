// The raster of Canvas.h. This file holds netc's stb_image_write implementation (Debian's
// libstb-dev), private to it.

#include "tools/netc/Canvas.h"

#include "dsl/Error.h"
#include "tools/netc/PlotFont.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>

namespace netc::cli {

namespace {

/// The distance from (px, py) to the segment from (ax, ay) to (bx, by).
double distance_to_segment(double px, double py, double ax, double ay, double bx, double by) {
    const double dx = bx - ax, dy = by - ay;
    const double length2 = dx * dx + dy * dy;
    double t = length2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / length2 : 0;
    t = std::clamp(t, 0.0, 1.0);
    return std::hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/// The share of a pixel that a shape's edge at `distance` from its centre covers, for a shape
/// reaching `reach` from its centre line: 1 inside, 0 outside, a linear ramp one pixel wide.
double coverage(double distance, double reach) {
    return std::clamp(reach + 0.5 - distance, 0.0, 1.0);
}

}  // namespace

Canvas::Canvas(int width, int height, Rgb background)
    : width_(width), height_(height), pixels_((size_t)width * (size_t)height * 3) {
    internal_assert(width > 0 && height > 0);
    unclip();
    for (size_t i = 0; i < pixels_.size(); i += 3) {
        pixels_[i] = background.r;
        pixels_[i + 1] = background.g;
        pixels_[i + 2] = background.b;
    }
}

void Canvas::clip(int x0, int y0, int x1, int y1) {
    clip_x0_ = std::max(0, x0);
    clip_y0_ = std::max(0, y0);
    clip_x1_ = std::min(width_, x1);
    clip_y1_ = std::min(height_, y1);
}

void Canvas::unclip() { clip(0, 0, width_, height_); }

void Canvas::blend(int x, int y, Rgb colour, double coverage) {
    if (x < clip_x0_ || x >= clip_x1_ || y < clip_y0_ || y >= clip_y1_ || coverage <= 0) return;
    uint8_t *p = &pixels_[((size_t)y * (size_t)width_ + (size_t)x) * 3];
    const uint8_t c[3] = {colour.r, colour.g, colour.b};
    for (int k = 0; k < 3; k++) {
        p[k] = (uint8_t)std::lround(p[k] + (c[k] - p[k]) * std::min(coverage, 1.0));
    }
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Rgb colour) {
    for (int y = std::max(y0, clip_y0_); y < std::min(y1, clip_y1_); y++) {
        for (int x = std::max(x0, clip_x0_); x < std::min(x1, clip_x1_); x++)
            blend(x, y, colour, 1);
    }
}

void Canvas::polyline(const std::vector<std::pair<double, double>> &points, double thickness,
                      Rgb colour) {
    if (points.empty()) return;
    const double reach = thickness / 2;
    // The coverage of each pixel of the bounding box, the most any segment gives it.
    double left = points[0].first, right = left, top = points[0].second, bottom = top;
    for (const auto &[x, y] : points) {
        left = std::min(left, x);
        right = std::max(right, x);
        top = std::min(top, y);
        bottom = std::max(bottom, y);
    }
    const int x0 = std::max(clip_x0_, (int)std::floor(left - reach - 1));
    const int x1 = std::min(clip_x1_, (int)std::ceil(right + reach + 1));
    const int y0 = std::max(clip_y0_, (int)std::floor(top - reach - 1));
    const int y1 = std::min(clip_y1_, (int)std::ceil(bottom + reach + 1));
    if (x0 >= x1 || y0 >= y1) return;
    const int box_width = x1 - x0;
    std::vector<float> covered((size_t)box_width * (size_t)(y1 - y0),
                               0.0f);  // (y1 - y0, box_width)
    for (size_t i = 0; i < points.size(); i++) {
        const auto [ax, ay] = points[i];
        const auto [bx, by] = points[i + 1 < points.size() ? i + 1 : i];
        const int sx0 = std::max(x0, (int)std::floor(std::min(ax, bx) - reach - 1));
        const int sx1 = std::min(x1, (int)std::ceil(std::max(ax, bx) + reach + 1));
        const int sy0 = std::max(y0, (int)std::floor(std::min(ay, by) - reach - 1));
        const int sy1 = std::min(y1, (int)std::ceil(std::max(ay, by) + reach + 1));
        for (int y = sy0; y < sy1; y++) {
            for (int x = sx0; x < sx1; x++) {
                const double d = distance_to_segment(x + 0.5, y + 0.5, ax, ay, bx, by);
                float &c = covered[(size_t)(y - y0) * (size_t)box_width + (size_t)(x - x0)];
                c = std::max(c, (float)coverage(d, reach));
            }
        }
    }
    for (int y = y0; y < y1; y++) {
        for (int x = x0; x < x1; x++) {
            blend(x, y, colour, covered[(size_t)(y - y0) * (size_t)box_width + (size_t)(x - x0)]);
        }
    }
}

void Canvas::disc(double cx, double cy, double radius, Rgb colour) {
    for (int y = (int)std::floor(cy - radius - 1); y <= (int)std::ceil(cy + radius + 1); y++) {
        for (int x = (int)std::floor(cx - radius - 1); x <= (int)std::ceil(cx + radius + 1); x++) {
            blend(x, y, colour, coverage(std::hypot(x + 0.5 - cx, y + 0.5 - cy), radius));
        }
    }
}

void Canvas::text(int x, int y, std::string_view text, Rgb colour, int scale) {
    for (size_t i = 0; i < text.size(); i++) {
        const Glyph &g = glyph(text[i]);
        const int left = x + (int)i * font_advance * scale;
        for (int row = 0; row < font_height; row++) {
            for (int col = 0; col < font_width; col++) {
                if (!(g[row] >> (font_width - 1 - col) & 1)) continue;
                fill_rect(left + col * scale, y + row * scale, left + (col + 1) * scale,
                          y + (row + 1) * scale, colour);
            }
        }
    }
}

void Canvas::text_up(int x, int y, std::string_view text, Rgb colour, int scale) {
    // The glyph pixel `along` the text and `down` from its top lands `along` above y and `down`
    // right of x.
    for (size_t i = 0; i < text.size(); i++) {
        const Glyph &g = glyph(text[i]);
        for (int row = 0; row < font_height; row++) {
            for (int col = 0; col < font_width; col++) {
                if (!(g[row] >> (font_width - 1 - col) & 1)) continue;
                const int along = (int)i * font_advance + col;
                fill_rect(x + row * scale, y - (along + 1) * scale, x + (row + 1) * scale,
                          y - along * scale, colour);
            }
        }
    }
}

int Canvas::text_width(std::string_view text, int scale) {
    // No trailing gap after the last glyph.
    return text.empty() ? 0 : ((int)text.size() * font_advance - 1) * scale;
}

int Canvas::text_height(int scale) { return font_height * scale; }

std::vector<uint8_t> Canvas::png() const {
    std::vector<uint8_t> bytes;
    auto append = [](void *context, void *data, int size) {
        auto *out = static_cast<std::vector<uint8_t> *>(context);
        out->insert(out->end(), (const uint8_t *)data, (const uint8_t *)data + size);
    };
    if (!stbi_write_png_to_func(append, &bytes, width_, height_, 3, pixels_.data(), width_ * 3)) {
        internal_error("stb_image_write could not encode a " + std::to_string(width_) + "x" +
                       std::to_string(height_) + " PNG");
    }
    return bytes;
}

}  // namespace netc::cli
