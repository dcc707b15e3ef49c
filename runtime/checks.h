// The argument checks of the core library, written once: each throws Error with a message that
// names the argument and the value, as the command line and the Python package show it.
#pragma once

#include <string>

#include "image.h"

namespace blurmix {

// sigma in (0, 1000]: what names it in the message ("sigma", "sigma-min", ...).
void check_sigma(float sigma, const char *what);
// std_devs (the kernel's half-width in standard deviations) in (0, 10].
void check_std_devs(float std_devs);
// Equal width, height and channels; what names the pair ("source and target").
void check_same_size(const Image &a, const Image &b, const std::string &what);
// A sigma map of width x height whose values are finite and in (0, 1000].
void check_sigma_map(const Map &sigma, int width, int height, const std::string &what);
// Throws "what: NaN at row R, column C, channel K" (or Inf, -Inf) for the
// first non-finite value in row-major order.
void check_finite(const Image &img, const std::string &what);
// "WxH"
std::string size_text(int width, int height);

}  // namespace blurmix
