#include "image_io.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>

#include "image_file.h"

namespace blurmix {

using io::fail;

namespace {

enum class Format { any, png, npy };

Image load(const std::string &path, const ReadLimits &limits, Format format) {
    io::Input in(path);
    try {
        if (format == Format::any) {
            unsigned char magic[8];
            size_t n = std::fread(magic, 1, sizeof magic, in.file.get());
            std::rewind(in.file.get());
            if (n == 8 && io::has_png_signature(magic, n)) format = Format::png;
            else if (n >= 6 && std::memcmp(magic, "\x93NUMPY", 6) == 0) format = Format::npy;
            else fail(path, "not a PNG or .npy file");
        }
        return format == Format::png ? io::read_png(in, limits) : io::read_npy(in, limits);
    } catch (const std::bad_alloc &) {
        fail(path, "out of memory while loading");
    }
}

}  // namespace

FileFormat sniff_format(const std::string &path) {
    unsigned char magic[8];
    std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!f || std::fread(magic, 1, 8, f.get()) != 8) return FileFormat::unknown;
    if (io::has_png_signature(magic, 8)) return FileFormat::png;
    if (std::memcmp(magic, "\x93NUMPY", 6) == 0) return FileFormat::npy;
    return FileFormat::unknown;
}

float srgb_to_linear(float v) {
    return v <= 0.04045f ? v / 12.92f : std::pow((v + 0.055f) / 1.055f, 2.4f);
}

float linear_to_srgb(float v) {
    return v <= 0.0031308f ? v * 12.92f : 1.055f * std::pow(v, 1.0f / 2.4f) - 0.055f;
}

namespace {
template <class F>
void convert_colour(Image &img, F f) {
    const int colours = img.dim(2).extent() % 2 == 0 ? img.dim(2).extent() - 1 : img.dim(2).extent();
    img.for_each_element([&](int x, int y, int k) {
        if (k - img.dim(2).min() < colours) img(x, y, k) = f(img(x, y, k));
    });
}
}  // namespace

void srgb_to_linear(Image &img) {
    convert_colour(img, [](float v) { return srgb_to_linear(v); });
}

void linear_to_srgb(Image &img) {
    convert_colour(img, [](float v) { return linear_to_srgb(v); });
}

Image load_image(const std::string &path, const ReadLimits &limits) {
    return load(path, limits, Format::any);
}

Image load_png(const std::string &path, const ReadLimits &limits) {
    return load(path, limits, Format::png);
}

Image load_npy(const std::string &path, const ReadLimits &limits) {
    return load(path, limits, Format::npy);
}

Map load_map(const std::string &path, const ReadLimits &limits) {
    Image img = load_image(path, limits);
    if (img.channels() != 1) {
        fail(path, "expected a single-channel map, found " + std::to_string(img.channels()) + " channels");
    }
    return img.sliced(2, 0);
}

void save_image(const std::string &path, const Image &img) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (char &ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (ext == ".png") return save_png(path, img);
    if (ext == ".npy") return save_npy(path, img);
    fail(path, ext.empty() ? "no file extension (use .png or .npy)"
                           : "unsupported extension '" + ext + "' (use .png or .npy)");
}

}  // namespace blurmix
