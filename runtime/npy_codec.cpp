#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "image_file.h"

// The .npy reader and writer copy float bytes straight to and from '<f4' data.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "blurmix image I/O assumes a little-endian host");

// NumPy's .npy format, version 1 to 3 headers parsed strictly.
namespace blurmix::io {

namespace {

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

}  // namespace

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
    if (item_size == 4 && c == 1) {
        // The file's rows are the image's: read straight into it.
        in.read(img.data(), size_t(w) * h_rows * 4, "in the .npy data");
        return img;
    }
    // Blocks of about 1 MiB of rows, each channel then gathered into its plane (a sample at a time,
    // the reading of a 4096x4096 RGB image took twice as long). The block is of the file's type, so
    // that the samples are read as what they are.
    const size_t row_samples = size_t(w) * c;
    const int block_rows = int(std::clamp<size_t>((1u << 20) / (row_samples * item_size), 1, size_t(h_rows)));
    std::vector<float> singles(item_size == 4 ? row_samples * block_rows : 0);
    std::vector<double> doubles(item_size == 8 ? row_samples * block_rows : 0);
    for (int y0 = 0; y0 < h_rows; y0 += block_rows) {
        const int n = std::min(block_rows, h_rows - y0);
        if (item_size == 4) in.read(singles.data(), row_samples * n * 4, "in the .npy data");
        else in.read(doubles.data(), row_samples * n * 8, "in the .npy data");
        for (int y = y0; y < y0 + n; y++) {
            const size_t row = row_samples * (y - y0);
            for (int k = 0; k < c; k++) {
                float *dst = &img(0, y, k);
                if (item_size == 4) {
                    const float *src = singles.data() + row + k;
                    for (int x = 0; x < w; x++) dst[x] = src[size_t(x) * c];
                } else {
                    const double *src = doubles.data() + row + k;
                    for (int x = 0; x < w; x++) dst[x] = float(src[size_t(x) * c]);
                }
            }
        }
    }
    return img;
}

}  // namespace blurmix::io

namespace blurmix {

void save_npy(const std::string &path, const Image &img) {
    io::check_saveable(path, img);
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
    std::fwrite(preamble.data(), 1, preamble.size(), out.file());
    std::fwrite(header.data(), 1, header.size(), out.file());
    const bool dense_rows = img.dim(0).stride() == 1;
    if (c == 1 && dense_rows && img.dim(1).stride() == w) {
        std::fwrite(&img(x0, y0, c0), sizeof(float), size_t(w) * h, out.file());  // the file's rows are the image's
    } else {
        std::vector<float> row(size_t(w) * c);
        for (int y = 0; y < h; y++) {
            // A channel at a time: its row is read in order, only the stores are strided.
            for (int k = 0; k < c; k++) {
                if (dense_rows) {
                    const float *src = &img(x0, y0 + y, c0 + k);
                    for (int x = 0; x < w; x++) row[size_t(x) * c + k] = src[x];
                } else {
                    for (int x = 0; x < w; x++) row[size_t(x) * c + k] = img(x0 + x, y0 + y, c0 + k);
                }
            }
            std::fwrite(row.data(), sizeof(float), row.size(), out.file());
        }
    }
    out.commit();  // checks the stream's error flag, so the unchecked fwrites above are safe
}

void save_npy(const std::string &path, const Map &map) {
    save_npy(path, Image(map.embedded(2)));
}

}  // namespace blurmix
