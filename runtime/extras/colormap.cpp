#include "colormap.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace blurmix {
namespace {

// The pictures are drawn in 8-bit samples (Picture), as the PNG stores them: a float canvas
// four times the size, filled, then quantised, was most of sigma.png's time for a 2048x2048 fit.
struct Rgb {
    uint8_t r, g, b;
};
static_assert(sizeof(Rgb) == 3, "a Picture pixel");
constexpr Rgb kBlack{0, 0, 0};

// viridis by Nathaniel J. Smith, Stefan van der Walt and Eric Firing (CC0),
// as used by matplotlib, rounded to 8 bits.
const unsigned char kViridis[256][3] = {
    {68, 1, 84}, {68, 2, 86}, {69, 4, 87}, {69, 5, 89}, {70, 7, 90}, {70, 8, 92},
    {70, 10, 93}, {70, 11, 94}, {71, 13, 96}, {71, 14, 97}, {71, 16, 99}, {71, 17, 100},
    {71, 19, 101}, {72, 20, 103}, {72, 22, 104}, {72, 23, 105}, {72, 24, 106}, {72, 26, 108},
    {72, 27, 109}, {72, 28, 110}, {72, 29, 111}, {72, 31, 112}, {72, 32, 113}, {72, 33, 115},
    {72, 35, 116}, {72, 36, 117}, {72, 37, 118}, {72, 38, 119}, {72, 40, 120}, {72, 41, 121},
    {71, 42, 122}, {71, 44, 122}, {71, 45, 123}, {71, 46, 124}, {71, 47, 125}, {70, 48, 126},
    {70, 50, 126}, {70, 51, 127}, {70, 52, 128}, {69, 53, 129}, {69, 55, 129}, {69, 56, 130},
    {68, 57, 131}, {68, 58, 131}, {68, 59, 132}, {67, 61, 132}, {67, 62, 133}, {66, 63, 133},
    {66, 64, 134}, {66, 65, 134}, {65, 66, 135}, {65, 68, 135}, {64, 69, 136}, {64, 70, 136},
    {63, 71, 136}, {63, 72, 137}, {62, 73, 137}, {62, 74, 137}, {62, 76, 138}, {61, 77, 138},
    {61, 78, 138}, {60, 79, 138}, {60, 80, 139}, {59, 81, 139}, {59, 82, 139}, {58, 83, 139},
    {58, 84, 140}, {57, 85, 140}, {57, 86, 140}, {56, 88, 140}, {56, 89, 140}, {55, 90, 140},
    {55, 91, 141}, {54, 92, 141}, {54, 93, 141}, {53, 94, 141}, {53, 95, 141}, {52, 96, 141},
    {52, 97, 141}, {51, 98, 141}, {51, 99, 141}, {50, 100, 142}, {50, 101, 142}, {49, 102, 142},
    {49, 103, 142}, {49, 104, 142}, {48, 105, 142}, {48, 106, 142}, {47, 107, 142}, {47, 108, 142},
    {46, 109, 142}, {46, 110, 142}, {46, 111, 142}, {45, 112, 142}, {45, 113, 142}, {44, 113, 142},
    {44, 114, 142}, {44, 115, 142}, {43, 116, 142}, {43, 117, 142}, {42, 118, 142}, {42, 119, 142},
    {42, 120, 142}, {41, 121, 142}, {41, 122, 142}, {41, 123, 142}, {40, 124, 142}, {40, 125, 142},
    {39, 126, 142}, {39, 127, 142}, {39, 128, 142}, {38, 129, 142}, {38, 130, 142}, {38, 130, 142},
    {37, 131, 142}, {37, 132, 142}, {37, 133, 142}, {36, 134, 142}, {36, 135, 142}, {35, 136, 142},
    {35, 137, 142}, {35, 138, 141}, {34, 139, 141}, {34, 140, 141}, {34, 141, 141}, {33, 142, 141},
    {33, 143, 141}, {33, 144, 141}, {33, 145, 140}, {32, 146, 140}, {32, 146, 140}, {32, 147, 140},
    {31, 148, 140}, {31, 149, 139}, {31, 150, 139}, {31, 151, 139}, {31, 152, 139}, {31, 153, 138},
    {31, 154, 138}, {30, 155, 138}, {30, 156, 137}, {30, 157, 137}, {31, 158, 137}, {31, 159, 136},
    {31, 160, 136}, {31, 161, 136}, {31, 161, 135}, {31, 162, 135}, {32, 163, 134}, {32, 164, 134},
    {33, 165, 133}, {33, 166, 133}, {34, 167, 133}, {34, 168, 132}, {35, 169, 131}, {36, 170, 131},
    {37, 171, 130}, {37, 172, 130}, {38, 173, 129}, {39, 173, 129}, {40, 174, 128}, {41, 175, 127},
    {42, 176, 127}, {44, 177, 126}, {45, 178, 125}, {46, 179, 124}, {47, 180, 124}, {49, 181, 123},
    {50, 182, 122}, {52, 182, 121}, {53, 183, 121}, {55, 184, 120}, {56, 185, 119}, {58, 186, 118},
    {59, 187, 117}, {61, 188, 116}, {63, 188, 115}, {64, 189, 114}, {66, 190, 113}, {68, 191, 112},
    {70, 192, 111}, {72, 193, 110}, {74, 193, 109}, {76, 194, 108}, {78, 195, 107}, {80, 196, 106},
    {82, 197, 105}, {84, 197, 104}, {86, 198, 103}, {88, 199, 101}, {90, 200, 100}, {92, 200, 99},
    {94, 201, 98}, {96, 202, 96}, {99, 203, 95}, {101, 203, 94}, {103, 204, 92}, {105, 205, 91},
    {108, 205, 90}, {110, 206, 88}, {112, 207, 87}, {115, 208, 86}, {117, 208, 84}, {119, 209, 83},
    {122, 209, 81}, {124, 210, 80}, {127, 211, 78}, {129, 211, 77}, {132, 212, 75}, {134, 213, 73},
    {137, 213, 72}, {139, 214, 70}, {142, 214, 69}, {144, 215, 67}, {147, 215, 65}, {149, 216, 64},
    {152, 216, 62}, {155, 217, 60}, {157, 217, 59}, {160, 218, 57}, {162, 218, 55}, {165, 219, 54},
    {168, 219, 52}, {170, 220, 50}, {173, 220, 48}, {176, 221, 47}, {178, 221, 45}, {181, 222, 43},
    {184, 222, 41}, {186, 222, 40}, {189, 223, 38}, {192, 223, 37}, {194, 223, 35}, {197, 224, 33},
    {200, 224, 32}, {202, 225, 31}, {205, 225, 29}, {208, 225, 28}, {210, 226, 27}, {213, 226, 26},
    {216, 226, 25}, {218, 227, 25}, {221, 227, 24}, {223, 227, 24}, {226, 228, 24}, {229, 228, 25},
    {231, 228, 25}, {234, 229, 26}, {236, 229, 27}, {239, 229, 28}, {241, 229, 29}, {244, 230, 30},
    {246, 230, 32}, {248, 230, 33}, {251, 231, 35}, {253, 231, 37},
};

// The table's entry for t in [0, 1], rounded to the nearest as save_png rounds a sample.
Rgb viridis(float t) {
    const uint8_t i = to_8bit(t);
    return {kViridis[i][0], kViridis[i][1], kViridis[i][2]};
}

// 5x7 glyphs, one string per glyph: seven rows of five pixels, '#' = ink.
// Letters in kDescenders are drawn two rows lower, so their last two rows hang
// below the baseline.
struct Glyph {
    char ch;
    const char *rows;
};
const char kDescenders[] = "gpqy";
const Glyph kFont[] = {
    {' ', "..... ..... ..... ..... ..... ..... ....."}, {'.', "..... ..... ..... ..... ..... .##.. .##.."},
    {',', "..... ..... ..... ..... .##.. ..#.. .#..."}, {'-', "..... ..... ..... ##### ..... ..... ....."},
    {'+', "..... ..#.. ..#.. ##### ..#.. ..#.. ....."}, {'_', "..... ..... ..... ..... ..... ..... #####"},
    {':', "..... .##.. .##.. ..... .##.. .##.. ....."}, {'/', "....# ....# ...#. ..#.. .#... #.... #...."},
    {'(', "...#. ..#.. .#... .#... .#... ..#.. ...#."}, {')', ".#... ..#.. ...#. ...#. ...#. ..#.. .#..."},
    {'=', "..... ..... ##### ..... ##### ..... ....."}, {'%', "##... ##..# ...#. ..#.. .#... #..## ...##"},
    {'?', ".###. #...# ....# ...#. ..#.. ..... ..#.."},
    {'0', ".###. #...# #..## #.#.# ##..# #...# .###."}, {'1', "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."},
    {'2', ".###. #...# ....# ...#. ..#.. .#... #####"}, {'3', "##### ...#. ..#.. ...#. ....# #...# .###."},
    {'4', "...#. ..##. .#.#. #..#. ##### ...#. ...#."}, {'5', "##### #.... ####. ....# ....# #...# .###."},
    {'6', "..##. .#... #.... ####. #...# #...# .###."}, {'7', "##### ....# ...#. ..#.. .#... .#... .#..."},
    {'8', ".###. #...# #...# .###. #...# #...# .###."}, {'9', ".###. #...# #...# .#### ....# ...#. .##.."},
    {'A', ".###. #...# #...# ##### #...# #...# #...#"}, {'B', "####. #...# #...# ####. #...# #...# ####."},
    {'C', ".###. #...# #.... #.... #.... #...# .###."}, {'D', "####. #...# #...# #...# #...# #...# ####."},
    {'E', "##### #.... #.... ####. #.... #.... #####"}, {'F', "##### #.... #.... ####. #.... #.... #...."},
    {'G', ".###. #...# #.... #.### #...# #...# .####"}, {'H', "#...# #...# #...# ##### #...# #...# #...#"},
    {'I', ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###."}, {'J', "..### ...#. ...#. ...#. ...#. #..#. .##.."},
    {'K', "#...# #..#. #.#.. ##... #.#.. #..#. #...#"}, {'L', "#.... #.... #.... #.... #.... #.... #####"},
    {'M', "#...# ##.## #.#.# #.#.# #...# #...# #...#"}, {'N', "#...# #...# ##..# #.#.# #..## #...# #...#"},
    {'O', ".###. #...# #...# #...# #...# #...# .###."}, {'P', "####. #...# #...# ####. #.... #.... #...."},
    {'Q', ".###. #...# #...# #...# #.#.# #..#. .##.#"}, {'R', "####. #...# #...# ####. #.#.. #..#. #...#"},
    {'S', ".#### #.... #.... .###. ....# ....# ####."}, {'T', "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."},
    {'U', "#...# #...# #...# #...# #...# #...# .###."}, {'V', "#...# #...# #...# #...# #...# .#.#. ..#.."},
    {'W', "#...# #...# #...# #.#.# #.#.# #.#.# .#.#."}, {'X', "#...# #...# .#.#. ..#.. .#.#. #...# #...#"},
    {'Y', "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.."}, {'Z', "##### ....# ...#. ..#.. .#... #.... #####"},
    {'a', "..... ..... .###. ....# .#### #...# .####"}, {'b', "#.... #.... #.##. ##..# #...# #...# ####."},
    {'c', "..... ..... .###. #.... #.... #...# .###."}, {'d', "....# ....# .##.# #..## #...# #...# .####"},
    {'e', "..... ..... .###. #...# ##### #.... .###."}, {'f', "..##. .#..# .#... ###.. .#... .#... .#..."},
    {'g', ".#### #...# #...# .#### ....# #...# .###."}, {'h', "#.... #.... #.##. ##..# #...# #...# #...#"},
    {'i', "..#.. ..... .##.. ..#.. ..#.. ..#.. .###."}, {'j', "...#. ..... ..##. ...#. ...#. #..#. .##.."},
    {'k', "#.... #.... #..#. #.#.. ##... #.#.. #..#."}, {'l', ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###."},
    {'m', "..... ..... ##.#. #.#.# #.#.# #...# #...#"}, {'n', "..... ..... #.##. ##..# #...# #...# #...#"},
    {'o', "..... ..... .###. #...# #...# #...# .###."}, {'p', "####. #...# #...# #...# ####. #.... #...."},
    {'q', ".#### #...# #...# #...# .#### ....# ....#"}, {'r', "..... ..... #.##. ##..# #.... #.... #...."},
    {'s', "..... ..... .###. #.... .###. ....# ####."}, {'t', ".#... .#... ###.. .#... .#... .#..# ..##."},
    {'u', "..... ..... #...# #...# #...# #..## .##.#"}, {'v', "..... ..... #...# #...# #...# .#.#. ..#.."},
    {'w', "..... ..... #...# #...# #.#.# #.#.# .#.#."}, {'x', "..... ..... #...# .#.#. ..#.. .#.#. #...#"},
    {'y', "#...# #...# #...# #...# .#### ....# .###."}, {'z', "..... ..... ##### ...#. ..#.. .#... #####"},
};

const int kTextScale = 2;
const int kTextHeight = 9 * kTextScale;  // 7 rows plus 2 for descenders
const int kPad = 12;
const int kMinSide = 256;

const Glyph &glyph(char ch) {
    for (const Glyph &g : kFont) {
        if (g.ch == ch) return g;
    }
    return glyph('?');
}

int text_width(const std::string &text) {
    return text.empty() ? 0 : (int(text.size()) * 6 - 1) * kTextScale;
}

void fill_rect(Picture &canvas, int x, int y, int w, int h, Rgb c) {
    for (int j = std::max(y, 0); j < std::min(y + h, canvas.height()); j++) {
        for (int i = std::max(x, 0); i < std::min(x + w, canvas.width()); i++) {
            canvas(i, j, 0) = c.r;
            canvas(i, j, 1) = c.g;
            canvas(i, j, 2) = c.b;
        }
    }
}

// (x, y) is the top left of the text's 7-row body; descenders go below it.
void draw_text(Picture &canvas, int x, int y, const std::string &text) {
    for (char ch : text) {
        const Glyph &g = glyph(ch);
        int drop = std::strchr(kDescenders, ch) ? 2 : 0;
        for (int row = 0; row < 7; row++) {
            for (int col = 0; col < 5; col++) {
                if (g.rows[row * 6 + col] == '#') {
                    fill_rect(canvas, x + col * kTextScale, y + (row + drop) * kTextScale, kTextScale, kTextScale,
                              kBlack);
                }
            }
        }
        x += 6 * kTextScale;
    }
}

Picture white_canvas(int w, int h) {
    Picture canvas = Picture::make_interleaved(w, h, 3);
    if (!canvas.data()) throw Error("cannot draw a picture of " + std::to_string(w) + "x" + std::to_string(h) + ": out of memory");
    std::memset(canvas.data(), 255, canvas.size_in_bytes());
    return canvas;
}

// The integer factor that brings the longer side to at least kMinSide.
int upscale(int longer_side) {
    return std::max(1, (kMinSide + longer_side - 1) / longer_side);
}

void check_range(const std::string &path, float lo, float hi) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
        throw Error(path + ": bad value range " + std::to_string(lo) + " .. " + std::to_string(hi));
    }
}

// Position of v in lo..hi as 0..1; the middle when the range is a single value.
float normalise(float v, float lo, float hi) {
    return hi > lo ? std::clamp((v - lo) / (hi - lo), 0.0f, 1.0f) : 0.5f;
}

// Two decimals read best ("3.00", "6.00"); fall back to three significant
// digits when those would hide the differences or get long.
std::vector<std::string> tick_labels(float lo, float hi) {
    auto format = [](const char *fmt, float v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, fmt, double(v));
        return std::string(buf);
    };
    float mid = lo + (hi - lo) / 2;
    std::vector<std::string> fixed = {format("%.2f", hi), format("%.2f", mid), format("%.2f", lo)};
    bool distinct = lo == hi || (fixed[0] != fixed[1] && fixed[1] != fixed[2]);
    if (distinct && std::max(std::fabs(lo), std::fabs(hi)) < 1e5f) return fixed;
    return {format("%.3g", hi), format("%.3g", mid), format("%.3g", lo)};
}

}  // namespace

void save_colormap_png(const std::string &path, const Map &map, float lo, float hi, const std::string &label) {
    check_range(path, lo, hi);
    int mw = map.dim(0).extent(), mh = map.dim(1).extent();
    if (mw < 1 || mh < 1) throw Error(path + ": cannot draw an empty map");
    int s = upscale(std::max(mw, mh));
    std::vector<std::string> ticks = tick_labels(lo, hi);

    int top = kPad + kTextHeight + kPad / 2;
    int bar_x = kPad + mw * s + kPad, bar_w = 8 * kTextScale;
    int bar_h = std::max(mh * s, 4 * kTextHeight);
    int text_x = bar_x + bar_w + 5 * kTextScale;
    int ticks_w = 0;
    for (const std::string &t : ticks) ticks_w = std::max(ticks_w, text_width(t));
    int width = std::max(text_x + ticks_w, kPad + text_width(label)) + kPad;
    int height = top + bar_h + kPad;

    // The picture is never held whole: the PNG encoder's threads draw its rows as they encode
    // them, the map's straight from the map, the rest copied from two small pictures, the label
    // above the map (head) and the colour bar with its ticks beside it (side). A whole canvas
    // was 12 MB of fresh memory for a 2048x2048 map (and 800 MB for 16384x16384), filled
    // white, drawn on one thread and only then encoded.
    Picture head = white_canvas(width, top);
    draw_text(head, kPad, kPad, label);
    Picture side = white_canvas(width - bar_x, height - top);
    for (int j = 0; j < bar_h; j++) fill_rect(side, 0, j, bar_w, 1, viridis(1.0f - float(j) / float(bar_h - 1)));
    // Ticks at hi (top), the midpoint and lo (bottom); the labels sit inside
    // the bar's height so they never leave the picture.
    const int tick_y[3] = {0, (bar_h - 1) / 2, bar_h - 1};
    const int text_y[3] = {0, (bar_h - 7 * kTextScale) / 2, bar_h - 7 * kTextScale};
    for (int i = 0; i < 3; i++) {
        fill_rect(side, bar_w, tick_y[i], 3 * kTextScale, 1, kBlack);
        draw_text(side, text_x - bar_x, text_y[i], ticks[i]);
    }
    const int x0 = map.dim(0).min(), y0 = map.dim(1).min();
    const uint8_t half = to_8bit(0.5f);
    const Rgb grey{half, half, half};  // NaN
    PictureRows rows{width, height, 3, [&](int y, uint8_t *out) {
        if (y < top) {
            std::memcpy(out, &head(0, y, 0), size_t(width) * 3);
            return;
        }
        std::memset(out, 255, size_t(bar_x) * 3);
        if (y - top < mh * s) {
            const int my = y0 + (y - top) / s;
            uint8_t *px = out + size_t(kPad) * 3;
            for (int x = 0; x < mw; x++) {
                const float v = map(x0 + x, my);
                const Rgb c = std::isnan(v) ? grey : viridis(normalise(v, lo, hi));
                for (int i = 0; i < s; i++, px += 3) std::memcpy(px, &c, 3);
            }
        }
        std::memcpy(out + size_t(bar_x) * 3, &side(0, y - top, 0), size_t(width - bar_x) * 3);
    }};
    save_png(path, rows);
}

void save_panel_png(const std::string &path, const std::vector<std::pair<std::string, Image>> &tiles, float lo,
                    float hi) {
    check_range(path, lo, hi);
    if (tiles.empty()) throw Error(path + ": no images for the panel");
    int longest = 0, tallest = 0;
    for (const auto &[title, img] : tiles) {
        int c = img.dim(2).extent();
        if (c != 1 && c != 3) {
            throw Error(path + ": tile '" + title + "' has " + std::to_string(c) + " channels (need 1 or 3)");
        }
        if (img.dim(0).extent() < 1 || img.dim(1).extent() < 1) throw Error(path + ": tile '" + title + "' is empty");
        longest = std::max({longest, img.dim(0).extent(), img.dim(1).extent()});
        tallest = std::max(tallest, img.dim(1).extent());
    }
    int s = upscale(longest);
    int top = kPad + kTextHeight + kPad / 2;
    int width = kPad;
    for (const auto &[title, img] : tiles) width += std::max(img.dim(0).extent() * s, text_width(title)) + kPad;
    Picture canvas = white_canvas(width, top + tallest * s + kPad);

    int left = kPad;
    for (const auto &[title, img] : tiles) {
        draw_text(canvas, left, kPad, title);
        int w = img.dim(0).extent(), h = img.dim(1).extent(), grey = img.dim(2).extent() == 1;
        int x0 = img.dim(0).min(), y0 = img.dim(1).min(), c0 = img.dim(2).min();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                uint8_t v[3];
                for (int k = 0; k < 3; k++) v[k] = to_8bit(normalise(img(x0 + x, y0 + y, c0 + (grey ? 0 : k)), lo, hi));
                fill_rect(canvas, left + x * s, top + y * s, s, s, {v[0], v[1], v[2]});
            }
        }
        left += std::max(w * s, text_width(title)) + kPad;
    }
    save_png(path, canvas);
}

}  // namespace blurmix
