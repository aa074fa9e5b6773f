#pragma once
// The bitmap font of `netc plot`'s charts: printable ASCII, each glyph 5 pixels wide and 9 rows
// high (7 from the top to the baseline, 2 for descenders), set on a 6-pixel advance.

#include <array>
#include <cstdint>

namespace netc::cli {

constexpr int font_width = 5;    // pixels of one glyph
constexpr int font_height = 9;   // rows of one glyph, descenders included
constexpr int font_advance = 6;  // from one character to the next
constexpr int font_ascent = 7;   // rows above the baseline: the height of a digit or capital

/// (font_height) rows, top first; bit 4 of a row is its leftmost pixel.
using Glyph = std::array<uint8_t, font_height>;

/// The glyph of `c`: a blank one for ' ', and '?' for a character outside printable ASCII.
const Glyph &glyph(char c);

}  // namespace netc::cli
