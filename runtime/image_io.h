// Reading and writing images (PNG, .npy) as planar float32 Halide buffers.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "atomic_file.h"
#include "checks.h"
#include "image.h"

namespace blurmix {

// Images are read planar, 1..4 channels; PNG samples map to [0,1]. Every refusal throws Error
// with a message that starts with the file path: "path: reason".

// Caps on what a reader will decode, checked before anything is allocated.
// max_bytes is the size of the decoded float32 image, max_pixels its width x height.
struct ReadLimits {
    uint64_t max_width = 1u << 16, max_height = 1u << 16;
    uint64_t max_bytes = 1ull << 31;
    uint64_t max_pixels = ~0ull;  // no cap of its own by default
};

// Detects the format from the content (PNG signature or \x93NUMPY), not the name.
Image load_image(const std::string &path, const ReadLimits &limits = {});
// Any PNG colour type and bit depth; samples are taken as stored (no gamma or
// sRGB conversion), tRNS becomes an alpha channel.
Image load_png(const std::string &path, const ReadLimits &limits = {});
// dtype '<f4' or '<f8' (narrowed to float32), C order, shape (rows, cols) or
// (rows, cols, channels) with 1..4 channels.
Image load_npy(const std::string &path, const ReadLimits &limits = {});
// A single-channel image from any of the above; more channels is an error.
Map load_map(const std::string &path, const ReadLimits &limits = {});

// Chooses the format by extension: .png (8-bit) or .npy.
void save_image(const std::string &path, const Image &img);
// How a PNG is compressed: zlib's level (0..9) and the row filters the encoder may choose from
// (per row, the one with the smallest sum of magnitudes, as libpng chooses). The default is for
// speed: level 1 with the Sub and Up filters encoded a 2048x2048 RGB photo-like image 8x faster
// than libpng's default (level 6, all five filters tried per row: 0.23 s against 1.86 s) for a
// file 6% larger (6092 against 5745 KB); level 1 is now deflated by ISA-L's igzip where the build
// has it (6x faster again), every level in bands of rows on all cores (png_codec.cpp). compact()
// is libpng's default, for when size matters more than time.
struct PngEncoding {
    int zlib_level = 1;
    bool all_filters = false;  // false: Sub and Up only
    static PngEncoding compact() { return {6, true}; }
};
// bit_depth 8 or 16; 1..4 channels are written as grey, grey+alpha, RGB, RGBA.
// Values are clamped to [0,1] and rounded; NaN is written as 0.
void save_png(const std::string &path, const Image &img, int bit_depth = 8, const PngEncoding &enc = {});
// 1..4 channels of 8-bit samples as they are.
void save_png(const std::string &path, const Picture &pic, const PngEncoding &enc = {});
// A picture drawn row by row as it is encoded, never held whole: row(y, samples) writes row y's
// width * channels 8-bit samples, channels interleaved. It is called from the encoder's threads
// at once, each for a band of rows in order (and for the row above its band, which the PNG
// filters look at): it must give a row the same samples every time.
struct PictureRows {
    int width = 0, height = 0, channels = 0;
    std::function<void(int y, uint8_t *samples)> row;
};
void save_png(const std::string &path, const PictureRows &rows, const PngEncoding &enc = {});
// v as the 8-bit sample save_png writes for it: clamped to [0,1], NaN as 0, rounded.
uint8_t to_8bit(float v);
// float32 little-endian, C order; shape (rows, cols) for one channel, else
// (rows, cols, channels).
void save_npy(const std::string &path, const Image &img);
void save_npy(const std::string &path, const Map &map);  // (rows, cols)

// What the content of a file says it is (read from its first bytes, not its
// name); unknown also for a file that cannot be read.
enum class FileFormat { unknown, png, npy };
FileFormat sniff_format(const std::string &path);

// The sRGB transfer function (IEC 61966-2-1) on values in [0, 1]: encoded to
// linear light and back. The image versions convert the colour channels and
// leave alpha (the 2nd of 2 channels, the 4th of 4) as it is.
float srgb_to_linear(float v);
float linear_to_srgb(float v);
void srgb_to_linear(Image &img);
void linear_to_srgb(Image &img);



}  // namespace blurmix
