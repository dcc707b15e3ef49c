// The image types every part of blurmix passes around, and the one error type it throws.
#pragma once

#include <stdexcept>

#include "HalideBuffer.h"

namespace blurmix {

// Planar float32 image: dim 0 = x (columns), dim 1 = y (rows), dim 2 = c (channels). Buffers
// with other strides (channel-interleaved, a crop of a larger image) are taken as they are.
using Image = Halide::Runtime::Buffer<float, 3>;
// One value a pixel: a weight or logit map, a sigma map. (x, y)
using Map = Halide::Runtime::Buffer<float, 2>;
// 8-bit samples, (x, y, c) with the channels interleaved in memory (Picture::make_interleaved):
// pictures drawn for people to look at (sigma.png, panels), which save_png writes as they are,
// at an eighth of a float image's memory and without quantising.
using Picture = Halide::Runtime::Buffer<uint8_t, 3>;

// Every refusal and every failed pipeline throws this, with a message naming the problem
// ("path: reason" for files, "sigma-min must be ..." for arguments).
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace blurmix
