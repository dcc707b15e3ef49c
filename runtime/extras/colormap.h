// Diagnostic pictures: a map through a colour scale, and images side by side.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "image_io.h"

namespace blurmix {

// Writes an RGB PNG of map through viridis (lo -> dark purple, hi -> yellow),
// upscaled (nearest neighbour) to at least 256 px on its longer side, with a
// colour bar on the right marked with hi, the midpoint and lo, and label above.
// Values outside [lo, hi] are clamped; NaN is drawn grey. Needs finite lo <= hi.
void save_colormap_png(const std::string &path, const Map &map, float lo, float hi, const std::string &label);

// Writes the tiles (1 or 3 channels each) left to right on white, each under
// its title, mapping lo..hi to black..white and upscaled like save_colormap_png
// with one factor for all tiles so they stay comparable.
void save_panel_png(const std::string &path, const std::vector<std::pair<std::string, Image>> &tiles, float lo,
                    float hi);

}  // namespace blurmix
