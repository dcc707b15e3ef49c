#include "image_io.h"

#include <fcntl.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <vector>

// The .npy reader and writer copy float bytes straight to and from '<f4' data.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "blurmix image I/O assumes a little-endian host");

namespace blurmix {
namespace {

[[noreturn]] void fail(const std::string &path, const std::string &reason) {
    throw Error(path + ": " + reason);
}

std::string errno_text(int e) {
    return e ? std::strerror(e) : "unknown error";
}

// An open regular file and its size.
struct Input {
    std::string path;
    std::unique_ptr<FILE, int (*)(FILE *)> file{nullptr, std::fclose};
    uint64_t size = 0;

    explicit Input(const std::string &p) : path(p) {
        // O_NONBLOCK so that a FIFO is refused below instead of blocking the open.
        int fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) fail(p, "cannot open: " + errno_text(errno));
        struct stat st {};
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            bool dir = S_ISDIR(st.st_mode);
            ::close(fd);
            fail(p, dir ? "is a directory, not an image file" : "is not a regular file");
        }
        file.reset(fdopen(fd, "rb"));
        if (!file) {
            ::close(fd);
            fail(p, "cannot open: out of memory");
        }
        size = uint64_t(st.st_size);
        if (size == 0) fail(p, "file is empty");
    }

    void read(void *dst, size_t n, const char *what) {
        if (std::fread(dst, 1, n, file.get()) != n) {
            fail(path, std::ferror(file.get()) ? std::string("read error: ") + errno_text(errno)
                                               : std::string("file is truncated (") + what + ")");
        }
    }
};

// Checks a decoded size against the limits and against what a Halide buffer
// can index (int32 strides), before anything of that size is allocated.
void check_size(const std::string &path, uint64_t w, uint64_t h, uint64_t c, const ReadLimits &limits) {
    std::string dims = std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(c);
    if (w > limits.max_width || h > limits.max_height) {
        fail(path, "image is " + std::to_string(w) + "x" + std::to_string(h) + ", larger than the limit of " +
                       std::to_string(limits.max_width) + "x" + std::to_string(limits.max_height));
    }
    uint64_t pixels = 0, samples = 0, bytes = 0;
    if (__builtin_mul_overflow(w, h, &pixels) || pixels > limits.max_pixels) {
        fail(path, "image of " + std::to_string(w) + "x" + std::to_string(h) + " pixels exceeds the limit of " +
                       std::to_string(limits.max_pixels) + " pixels");
    }
    if (__builtin_mul_overflow(pixels, c, &samples) ||
        __builtin_mul_overflow(samples, sizeof(float), &bytes) || bytes > limits.max_bytes) {
        fail(path, "image of " + dims + " floats exceeds the limit of " + std::to_string(limits.max_bytes) + " bytes");
    }
    if (samples > uint64_t(INT32_MAX)) fail(path, "image of " + dims + " is too large for a Halide buffer");
}

// Halide's Buffer does not check malloc's result; throw instead, and load()
// turns that into an Error.
void *checked_malloc(size_t n) {
    void *p = std::malloc(n);
    if (!p) throw std::bad_alloc();
    return p;
}

Image new_image(int w, int h, int c) {
    Image img(static_cast<float *>(nullptr), w, h, c);
    img.allocate(checked_malloc, std::free);
    return img;
}

// ---- PNG ------------------------------------------------------------------

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

uint16_t quantise(float v, float full_scale) {
    if (!(v > 0.0f)) return 0;  // also NaN
    if (v >= 1.0f) return uint16_t(full_scale);
    return uint16_t(std::lround(v * full_scale));
}

// Same longjmp rule as decode_png: nothing with a destructor in this frame.
bool encode_png(Png &w, FILE *file, const Image &img, int bit_depth, std::vector<png_byte> &row) {
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

void check_saveable(const std::string &path, const Image &img) {
    int c = img.dim(2).extent();
    if (c < 1 || c > 4) fail(path, "cannot save an image with " + std::to_string(c) + " channels (need 1..4)");
    if (img.dim(0).extent() < 1 || img.dim(1).extent() < 1) fail(path, "cannot save an empty image");
}

// ---- npy ------------------------------------------------------------------

struct NpyHeader {
    std::string descr;
    bool fortran_order = false;
    std::vector<uint64_t> shape;
};

std::string shape_text(const std::vector<uint64_t> &shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

// Parses the Python dict literal numpy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (64, 64), }
// Keys may come in any order, with any spacing and an optional trailing comma.
class HeaderParser {
public:
    HeaderParser(const std::string &text, const std::string &path) : text_(text), path_(path) {}

    NpyHeader parse() {
        NpyHeader h;
        std::string seen;
        expect('{');
        while (!eat('}')) {
            std::string key = string_literal();
            expect(':');
            if (key == "descr") {
                if (peek() != '\'' && peek() != '"') fail(path_, "structured .npy dtypes are not supported");
                h.descr = string_literal();
            } else if (key == "fortran_order") {
                h.fortran_order = boolean();
            } else if (key == "shape") {
                h.shape = tuple();
            } else {
                bad("unknown key '" + key + "'");
            }
            seen += "'" + key + "'";
            if (!eat(',')) {
                expect('}');
                break;
            }
        }
        for (const char *key : {"'descr'", "'fortran_order'", "'shape'"}) {
            if (seen.find(key) == std::string::npos) bad(std::string("no ") + key);
        }
        return h;
    }

private:
    [[noreturn]] void bad(const std::string &what) {
        fail(path_, "malformed .npy header (" + what + "): " + text_.substr(0, 120));
    }

    char peek() {
        while (pos_ < text_.size() && std::strchr(" \t\r\n", text_[pos_])) pos_++;
        return pos_ < text_.size() ? text_[pos_] : '\0';
    }

    bool eat(char c) {
        if (peek() != c) return false;
        pos_++;
        return true;
    }

    void expect(char c) {
        if (!eat(c)) bad(std::string("expected '") + c + "' at offset " + std::to_string(pos_));
    }

    std::string string_literal() {
        char quote = peek();
        if (quote != '\'' && quote != '"') bad("expected a quoted string at offset " + std::to_string(pos_));
        size_t end = text_.find(quote, pos_ + 1);
        if (end == std::string::npos) bad("unterminated string");
        std::string s = text_.substr(pos_ + 1, end - pos_ - 1);
        pos_ = end + 1;
        return s;
    }

    bool boolean() {
        peek();
        for (const char *word : {"True", "False"}) {
            if (text_.compare(pos_, std::strlen(word), word) == 0) {
                pos_ += std::strlen(word);
                return word[0] == 'T';
            }
        }
        bad("fortran_order is not True or False");
    }

    std::vector<uint64_t> tuple() {
        std::vector<uint64_t> dims;
        expect('(');
        while (!eat(')')) {
            if (!std::isdigit(static_cast<unsigned char>(peek()))) bad("shape entries must be non-negative integers");
            char *end;
            errno = 0;
            uint64_t v = std::strtoull(text_.c_str() + pos_, &end, 10);
            if (errno == ERANGE) bad("shape entry too large");
            pos_ = size_t(end - text_.c_str());
            eat('L');  // Python 2 long literal, e.g. (64L, 64L)
            dims.push_back(v);
            if (!eat(',')) {
                expect(')');
                break;
            }
        }
        return dims;
    }

    const std::string &text_;
    const std::string &path_;
    size_t pos_ = 0;
};

Image read_npy(Input &in, const ReadLimits &limits) {
    unsigned char preamble[8];
    in.read(preamble, 8, "in the .npy preamble");
    if (std::memcmp(preamble, "\x93NUMPY", 6) != 0) fail(in.path, "not a .npy file");
    int major = preamble[6], minor = preamble[7];
    if (major < 1 || major > 3) {
        fail(in.path, "unsupported .npy version " + std::to_string(major) + "." + std::to_string(minor));
    }
    // Version 1 has a 2-byte header length, versions 2 and 3 a 4-byte one.
    unsigned char len_bytes[4] = {0, 0, 0, 0};
    size_t len_size = major == 1 ? 2 : 4;
    in.read(len_bytes, len_size, "in the .npy header length");
    uint64_t header_len = len_bytes[0] | len_bytes[1] << 8 | uint64_t(len_bytes[2]) << 16 | uint64_t(len_bytes[3]) << 24;
    uint64_t data_start = 8 + len_size + header_len;
    if (data_start > in.size) {
        fail(in.path, ".npy header length " + std::to_string(header_len) + " runs past the end of the file (" +
                          std::to_string(in.size) + " bytes)");
    }
    std::string text(header_len, '\0');
    in.read(text.data(), header_len, "in the .npy header");
    NpyHeader h = HeaderParser(text, in.path).parse();

    size_t item_size = h.descr == "<f4" ? 4 : h.descr == "<f8" ? 8 : 0;
    if (!item_size && h.descr[0] == '>') {
        fail(in.path, "big-endian .npy data ('" + h.descr + "') is not supported; save it as '<f4'");
    }
    if (!item_size) fail(in.path, "unsupported .npy dtype '" + h.descr + "' (need '<f4' or '<f8')");
    if (h.fortran_order) fail(in.path, ".npy array is in Fortran order; save a C-ordered array");
    const std::vector<uint64_t> &shape = h.shape;
    if (shape.size() != 2 && shape.size() != 3) {
        fail(in.path, ".npy shape " + shape_text(shape) + " is not 2-D or 3-D");
    }
    for (uint64_t d : shape) {
        if (d == 0) fail(in.path, ".npy shape " + shape_text(shape) + " has a zero-size dimension");
    }
    uint64_t channels = shape.size() == 3 ? shape[2] : 1;
    if (channels > 4) fail(in.path, ".npy shape " + shape_text(shape) + " has more than 4 channels");
    check_size(in.path, shape[1], shape[0], channels, limits);

    int w = int(shape[1]), h_rows = int(shape[0]), c = int(channels);
    uint64_t expected = uint64_t(w) * h_rows * c * item_size;
    if (in.size - data_start < expected) {
        fail(in.path, ".npy data is truncated: expected " + std::to_string(expected) + " bytes, found " +
                          std::to_string(in.size - data_start));
    }
    Image img = new_image(w, h_rows, c);
    std::vector<unsigned char> row(size_t(w) * c * item_size);
    for (int y = 0; y < h_rows; y++) {
        in.read(row.data(), row.size(), "in the .npy data");
        for (int x = 0; x < w; x++) {
            for (int k = 0; k < c; k++) {
                const unsigned char *p = row.data() + (size_t(x) * c + k) * item_size;
                if (item_size == 4) {
                    std::memcpy(&img(x, y, k), p, 4);
                } else {
                    double d;
                    std::memcpy(&d, p, 8);
                    img(x, y, k) = float(d);
                }
            }
        }
    }
    return img;
}

// umask() can only be read by changing it, which races with other threads
// creating files; /proc reports it without side effects.
mode_t current_umask() {
    unsigned mask = 022;
    if (FILE *f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        while (std::fgets(line, sizeof line, f)) {
            if (std::sscanf(line, "Umask: %o", &mask) == 1) break;
        }
        std::fclose(f);
    }
    return mode_t(mask);
}

enum class Format { any, png, npy };

Image load(const std::string &path, const ReadLimits &limits, Format format) {
    Input in(path);
    try {
        if (format == Format::any) {
            unsigned char magic[8];
            size_t n = std::fread(magic, 1, sizeof magic, in.file.get());
            std::rewind(in.file.get());
            if (n == 8 && png_sig_cmp(magic, 0, 8) == 0) format = Format::png;
            else if (n >= 6 && std::memcmp(magic, "\x93NUMPY", 6) == 0) format = Format::npy;
            else fail(path, "not a PNG or .npy file");
        }
        return format == Format::png ? read_png(in, limits) : read_npy(in, limits);
    } catch (const std::bad_alloc &) {
        fail(path, "out of memory while loading");
    }
}

}  // namespace

// ---- AtomicFile -------------------------------------------------------------

AtomicFile::~AtomicFile() {
    discard();
}

void AtomicFile::discard() {
    if (file_) std::fclose(file_);
    file_ = nullptr;
    if (!temp_.empty()) ::unlink(temp_.c_str());
    temp_.clear();
}

FILE *AtomicFile::open(const std::string &path) {
    discard();
    path_ = path;
    std::string temp = path + ".tmp-XXXXXX";
    int fd = ::mkstemp(temp.data());
    if (fd < 0) fail(path, "cannot create a file in its directory: " + errno_text(errno));
    temp_ = temp;
    // mkstemp creates mode 0600; give the result the mode a plain fopen would.
    ::fchmod(fd, 0666 & ~current_umask());
    file_ = fdopen(fd, "wb");
    if (!file_) {
        ::close(fd);
        discard();
        fail(path, "cannot open for writing: out of memory");
    }
    return file_;
}

void AtomicFile::commit() {
    if (!file_) fail(path_, "AtomicFile::commit without an open file");
    bool ok = std::fflush(file_) == 0 && !std::ferror(file_);
    int e = errno;
    if (std::fclose(file_) != 0 && ok) {
        ok = false;
        e = errno;
    }
    file_ = nullptr;
    if (!ok) {
        discard();
        fail(path_, "write failed: " + errno_text(e));
    }
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
        e = errno;
        discard();
        fail(path_, "cannot replace the file: " + errno_text(e));
    }
    temp_.clear();
}

// ---- public functions -------------------------------------------------------

FileFormat sniff_format(const std::string &path) {
    unsigned char magic[8];
    std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!f || std::fread(magic, 1, 8, f.get()) != 8) return FileFormat::unknown;
    if (png_sig_cmp(magic, 0, 8) == 0) return FileFormat::png;
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

void save_png(const std::string &path, const Image &img, int bit_depth) {
    if (bit_depth != 8 && bit_depth != 16) fail(path, "PNG bit depth must be 8 or 16, not " + std::to_string(bit_depth));
    check_saveable(path, img);
    std::vector<png_byte> row(size_t(img.dim(0).extent()) * img.dim(2).extent() * (bit_depth / 8));
    AtomicFile out(path);
    Png writer(true);
    if (!encode_png(writer, out.file(), img, bit_depth, row)) {
        fail(path, std::string("cannot write PNG: ") + writer.messages.error);
    }
    out.commit();
}

void save_npy(const std::string &path, const Image &img) {
    check_saveable(path, img);
    int w = img.dim(0).extent(), h = img.dim(1).extent(), c = img.dim(2).extent();
    int x0 = img.dim(0).min(), y0 = img.dim(1).min(), c0 = img.dim(2).min();
    std::string shape = "(" + std::to_string(h) + ", " + std::to_string(w) + (c > 1 ? ", " + std::to_string(c) : "") + ")";
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    // numpy pads the header with spaces so the data starts 64-byte aligned.
    header.append(63 - (10 + header.size()) % 64, ' ');
    header += '\n';
    std::string preamble = std::string("\x93NUMPY\x01\x00", 8);
    preamble += char(header.size() & 0xff);
    preamble += char(header.size() >> 8);

    AtomicFile out(path);
    std::vector<float> row(size_t(w) * c);
    std::fwrite(preamble.data(), 1, preamble.size(), out.file());
    std::fwrite(header.data(), 1, header.size(), out.file());
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            for (int k = 0; k < c; k++) row[size_t(x) * c + k] = img(x0 + x, y0 + y, c0 + k);
        }
        std::fwrite(row.data(), sizeof(float), row.size(), out.file());
    }
    out.commit();  // checks the stream's error flag, so the unchecked fwrites above are safe
}

void save_npy(const std::string &path, const Map &map) {
    save_npy(path, Image(map.embedded(2)));
}

void check_finite(const Image &img, const std::string &what) {
    // A branch-free pass over the planes first (it vectorizes); the position is searched for
    // only when something was found.
    bool all_finite = true;
    img.for_each_value([&](float v) {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        all_finite &= (bits & 0x7f800000u) != 0x7f800000u;
    });
    if (all_finite) return;
    for (int y = img.dim(1).min(); y <= img.dim(1).max(); y++) {
        for (int x = img.dim(0).min(); x <= img.dim(0).max(); x++) {
            for (int k = img.dim(2).min(); k <= img.dim(2).max(); k++) {
                float v = img(x, y, k);
                if (std::isfinite(v)) continue;
                const char *kind = std::isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf";
                throw Error(what + ": " + kind + " at row " + std::to_string(y) + ", column " + std::to_string(x) +
                            ", channel " + std::to_string(k));
            }
        }
    }
}

}  // namespace blurmix
