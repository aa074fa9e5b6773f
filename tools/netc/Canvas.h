#pragma once
// An RGB raster for `netc plot`: rectangles, anti-aliased lines and discs, text in the bitmap font
// of PlotFont.h, and the image as PNG bytes. Coordinates are pixels from the top-left corner; a
// pixel (x, y) covers [x, x + 1) x [y, y + 1), so its centre is (x + 0.5, y + 0.5).

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace netc::cli {

struct Rgb {
    uint8_t r = 0, g = 0, b = 0;
};

class Canvas {
public:
    Canvas(int width, int height, Rgb background);

    int width() const { return width_; }
    int height() const { return height_; }

    /// Drawing outside [x0, x1) x [y0, y1) is discarded until unclip().
    void clip(int x0, int y0, int x1, int y1);
    void unclip();

    /// Fills [x0, x1) x [y0, y1).
    void fill_rect(int x0, int y0, int x1, int y1, Rgb colour);
    /// Joins the points with segments `thickness` pixels wide with round ends, anti-aliased; each
    /// pixel is painted once, so the joins do not darken.
    void polyline(const std::vector<std::pair<double, double>> &points, double thickness,
                  Rgb colour);
    void disc(double cx, double cy, double radius, Rgb colour);

    /// `text` with the top-left corner of its first glyph at (x, y), each font pixel drawn as a
    /// `scale` x `scale` square.
    void text(int x, int y, std::string_view text, Rgb colour, int scale);
    /// `text` turned a quarter counter-clockwise, to read from bottom to top: the top-left corner
    /// of its first glyph, as it reads, at (x, y) (so the text extends upwards from y).
    void text_up(int x, int y, std::string_view text, Rgb colour, int scale);
    static int text_width(std::string_view text, int scale);
    static int text_height(int scale);

    /// (height, width, 3) RGB bytes, rows top to bottom.
    const std::vector<uint8_t> &pixels() const { return pixels_; }
    /// The image encoded as a PNG file.
    std::vector<uint8_t> png() const;

private:
    /// Mixes `colour` into pixel (x, y) by `coverage` in [0, 1]; nothing outside the clip.
    void blend(int x, int y, Rgb colour, double coverage);

    int width_, height_;
    int clip_x0_, clip_y0_, clip_x1_, clip_y1_;
    std::vector<uint8_t> pixels_;  // (height, width, 3) RGB
};

}  // namespace netc::cli
