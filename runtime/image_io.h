// Reading and writing images (PNG, .npy) as planar float32 Halide buffers.
#pragma once

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "HalideBuffer.h"

namespace blurmix {

// Planar float32 image: dim 0 = x (columns), dim 1 = y (rows), dim 2 = c
// (channels, 1..4). PNG samples map to [0,1].
using Image = Halide::Runtime::Buffer<float, 3>;
using Map = Halide::Runtime::Buffer<float, 2>;  // (x, y)

// Every refusal throws this; the message starts with the file path: "path: reason".
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

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
// bit_depth 8 or 16; 1..4 channels are written as grey, grey+alpha, RGB, RGBA.
// Values are clamped to [0,1] and rounded; NaN is written as 0.
void save_png(const std::string &path, const Image &img, int bit_depth = 8);
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

// Throws "what: NaN at row R, column C, channel K" (or Inf, -Inf) for the
// first non-finite value in row-major order.
void check_finite(const Image &img, const std::string &what);

// Writes a file so that readers see either the old content or the complete new
// one: data goes to "path.tmp-XXXXXX" in the same directory and is renamed
// onto path by commit(). Destroying an uncommitted AtomicFile, or opening it
// again, removes the temporary. Errors throw Error naming the final path.
class AtomicFile {
public:
    AtomicFile() = default;
    explicit AtomicFile(const std::string &path) { open(path); }
    ~AtomicFile();
    AtomicFile(const AtomicFile &) = delete;
    AtomicFile &operator=(const AtomicFile &) = delete;

    FILE *open(const std::string &path);
    FILE *file() const { return file_; }
    const std::string &path() const { return path_; }
    void commit();

private:
    void discard();

    std::string path_, temp_;
    FILE *file_ = nullptr;
};

}  // namespace blurmix
