#include <png.h>

#include <cmath>
#include <csetjmp>
#include <cstring>
#include <vector>

#include "image_file.h"

// PNG through libpng, with its own limits set (width, height, ancillary chunk size and count,
// CRC errors fatal in every chunk).
namespace blurmix::io {

namespace {

// What libpng said; its error and warning callbacks write here.
struct PngMessages {
    char error[256] = "unknown libpng error";
    char warning[256] = "";
};

// libpng expects this not to return: record the message and longjmp back to
// the setjmp in decode_png / encode_png.
void on_png_error(png_structp png, png_const_charp message) {
    std::snprintf(static_cast<PngMessages *>(png_get_error_ptr(png))->error, 256, "%s", message);
    png_longjmp(png, 1);
}

// Kept, not printed: some errors ("Invalid IHDR data") only make sense with
// the warning before them ("Image width exceeds user limit in IHDR").
void on_png_warning(png_structp png, png_const_charp message) {
    std::snprintf(static_cast<PngMessages *>(png_get_error_ptr(png))->warning, 256, "%s", message);
}

// libpng's own reader says only "Read Error" on a short file.
void read_png_data(png_structp png, png_bytep dst, size_t n) {
    if (std::fread(dst, 1, n, static_cast<FILE *>(png_get_io_ptr(png))) != n) {
        png_error(png, "unexpected end of file");
    }
}

// A libpng read or write struct with its info struct.
struct Png {
    bool writing;
    png_structp png = nullptr;
    png_infop info = nullptr;
    PngMessages messages;

    explicit Png(bool writing_) : writing(writing_) {
        png = writing ? png_create_write_struct(PNG_LIBPNG_VER_STRING, &messages, on_png_error, on_png_warning)
                      : png_create_read_struct(PNG_LIBPNG_VER_STRING, &messages, on_png_error, on_png_warning);
        if (png) info = png_create_info_struct(png);
        if (!info) {
            destroy();
            throw std::bad_alloc();
        }
    }
    ~Png() { destroy(); }
    void destroy() {
        if (writing) png_destroy_write_struct(&png, &info);
        else png_destroy_read_struct(&png, &info, nullptr);
    }
};

struct PngLayout {
    png_uint_32 width, height;
    int channels, bit_depth;
    size_t row_bytes;
};

// Decodes into interleaved bytes. png_error longjmps into this frame, so it
// creates nothing with a destructor; the vectors live in the caller.
bool decode_png(Png &r, FILE *file, const std::string &path, const ReadLimits &limits, PngLayout &out,
                std::vector<png_byte> &pixels, std::vector<png_bytep> &rows) {
    png_structp png = r.png;
    png_infop info = r.info;
    if (setjmp(png_jmpbuf(png))) return false;
    png_set_read_fn(png, file, read_png_data);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, png_uint_32(std::min<uint64_t>(limits.max_width, PNG_UINT_31_MAX)),
                        png_uint_32(std::min<uint64_t>(limits.max_height, PNG_UINT_31_MAX)));
    png_set_chunk_cache_max(png, 1000);
    png_set_chunk_malloc_max(png, 8u << 20);
    // Damaged data must not load as a slightly wrong picture.
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_read_info(png, info);

    // No png_set_gamma / sRGB handling: samples are used as stored.
    int type = png_get_color_type(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    out = {png_get_image_width(png, info), png_get_image_height(png, info), png_get_channels(png, info),
           png_get_bit_depth(png, info), png_get_rowbytes(png, info)};
    // The conversion in read_png indexes rows by these; the transforms above guarantee them.
    if ((out.bit_depth != 8 && out.bit_depth != 16) ||
        out.row_bytes != size_t(out.width) * out.channels * (out.bit_depth / 8)) {
        png_error(png, "unexpected sample layout after expansion");
    }
    check_size(path, out.width, out.height, out.channels, limits);
    pixels.resize(out.row_bytes * out.height);
    rows.resize(out.height);
    for (png_uint_32 y = 0; y < out.height; y++) rows[y] = pixels.data() + y * out.row_bytes;
    png_read_image(png, rows.data());
    // Reads up to IEND, so a file cut after the pixel data is still refused.
    png_read_end(png, nullptr);
    return true;
}

}  // namespace

Image read_png(Input &in, const ReadLimits &limits) {
    png_byte signature[8];
    if (std::fread(signature, 1, 8, in.file.get()) != 8 || png_sig_cmp(signature, 0, 8) != 0) {
        fail(in.path, "not a PNG file");
    }
    Png reader(false);
    PngLayout layout{};
    std::vector<png_byte> pixels;
    std::vector<png_bytep> rows;
    if (!decode_png(reader, in.file.get(), in.path, limits, layout, pixels, rows)) {
        std::string reason = std::string("bad PNG: ") + reader.messages.error;
        if (*reader.messages.warning) reason += std::string(" (after warning: ") + reader.messages.warning + ")";
        if (reason.find("user limit") != std::string::npos) {
            reason += " (ReadLimits allows " + std::to_string(limits.max_width) + "x" +
                      std::to_string(limits.max_height) + ")";
        }
        fail(in.path, reason);
    }

    int w = int(layout.width), h = int(layout.height), c = layout.channels;
    Image img = new_image(w, h, c);
    bool wide = layout.bit_depth == 16;
    float full_scale = wide ? 65535.0f : 255.0f;
    for (int y = 0; y < h; y++) {
        const png_byte *row = rows[y];
        for (int x = 0; x < w; x++) {
            for (int k = 0; k < c; k++) {
                size_t i = size_t(x) * c + k;
                // 16-bit PNG samples are big-endian.
                unsigned v = wide ? (unsigned(row[2 * i]) << 8 | row[2 * i + 1]) : row[i];
                img(x, y, k) = float(v) / full_scale;
            }
        }
    }
    return img;
}

namespace {

uint16_t quantise(float v, float full_scale) {
    if (!(v > 0.0f)) return 0;  // also NaN
    if (v >= 1.0f) return uint16_t(full_scale);
    return uint16_t(std::lround(v * full_scale));
}

// Same longjmp rule as decode_png: nothing with a destructor in this frame.
bool encode_png(Png &w, FILE *file, const Image &img, int bit_depth, const PngEncoding &enc,
                std::vector<png_byte> &row) {
    static const int color_types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                      PNG_COLOR_TYPE_RGB_ALPHA};
    png_structp png = w.png;
    png_infop info = w.info;
    if (setjmp(png_jmpbuf(png))) return false;
    int width = img.dim(0).extent(), height = img.dim(1).extent(), c = img.dim(2).extent();
    int x0 = img.dim(0).min(), y0 = img.dim(1).min(), c0 = img.dim(2).min();
    png_init_io(png, file);
    png_set_IHDR(png, info, width, height, bit_depth, color_types[c - 1], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, enc.zlib_level);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, enc.all_filters ? PNG_ALL_FILTERS : PNG_FILTER_SUB | PNG_FILTER_UP);
    png_write_info(png, info);
    float full_scale = bit_depth == 16 ? 65535.0f : 255.0f;
    for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
            for (int k = 0; k < c; k++) {
                size_t i = size_t(x) * c + k;
                uint16_t q = quantise(img(x0 + x, y0 + y, c0 + k), full_scale);
                if (bit_depth == 16) {
                    row[2 * i] = png_byte(q >> 8);
                    row[2 * i + 1] = png_byte(q & 0xff);
                } else {
                    row[i] = png_byte(q);
                }
            }
        }
        png_write_row(png, row.data());
    }
    png_write_end(png, nullptr);
    return true;
}

}  // namespace

bool has_png_signature(const unsigned char *bytes, size_t n) { return n >= 8 && png_sig_cmp(bytes, 0, 8) == 0; }

}  // namespace blurmix::io

namespace blurmix {

void save_png(const std::string &path, const Image &img, int bit_depth, const PngEncoding &enc) {
    if (bit_depth != 8 && bit_depth != 16) io::fail(path, "PNG bit depth must be 8 or 16, not " + std::to_string(bit_depth));
    if (enc.zlib_level < 0 || enc.zlib_level > 9) io::fail(path, "zlib level must be 0..9, not " + std::to_string(enc.zlib_level));
    io::check_saveable(path, img);
    std::vector<png_byte> row(size_t(img.dim(0).extent()) * img.dim(2).extent() * (bit_depth / 8));
    AtomicFile out(path);
    io::Png writer(true);
    if (!io::encode_png(writer, out.file(), img, bit_depth, enc, row)) {
        io::fail(path, std::string("cannot write PNG: ") + writer.messages.error);
    }
    out.commit();
}

}  // namespace blurmix
