#include <png.h>
#include <zlib.h>
#ifdef BLURMIX_WITH_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
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

// Reads the header and sets the expansions; the layout of the rows they give is in out, and the
// number of interlace passes the return value (0 on a libpng error). png_error longjmps into this
// frame, so it creates nothing with a destructor.
int decode_png_header(Png &r, FILE *file, const std::string &path, const ReadLimits &limits, PngLayout &out) {
    png_structp png = r.png;
    png_infop info = r.info;
    if (setjmp(png_jmpbuf(png))) return 0;
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
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    out = {png_get_image_width(png, info), png_get_image_height(png, info), png_get_channels(png, info),
           png_get_bit_depth(png, info), png_get_rowbytes(png, info)};
    // The conversion indexes rows by these; the transforms above guarantee them.
    if ((out.bit_depth != 8 && out.bit_depth != 16) ||
        out.row_bytes != size_t(out.width) * out.channels * (out.bit_depth / 8)) {
        png_error(png, "unexpected sample layout after expansion");
    }
    check_size(path, out.width, out.height, out.channels, limits);
    return passes;
}

// Rows [y0, y0 + n) of interleaved samples into the planar float image: a channel's row at a time,
// so that the stores are dense.
void samples_to_float(const png_bytep *rows, int y0, int n, const PngLayout &layout, Image &img) {
    const int w = int(layout.width), c = layout.channels;
    const bool wide = layout.bit_depth == 16;
    const float full_scale = wide ? 65535.0f : 255.0f;
    for (int y = y0; y < y0 + n; y++) {
        const png_byte *row = rows[y - y0];
        for (int k = 0; k < c; k++) {
            float *dst = &img(0, y, k);
            if (wide) {  // 16-bit PNG samples are big-endian
                for (int x = 0; x < w; x++) {
                    const size_t i = 2 * (size_t(x) * c + k);
                    dst[x] = float(unsigned(row[i]) << 8 | row[i + 1]) / full_scale;
                }
            } else {
                for (int x = 0; x < w; x++) dst[x] = float(row[size_t(x) * c + k]) / full_scale;
            }
        }
    }
}

// The rows, decoded a block at a time into block (block_rows rows, pointed to by rows) and
// converted into img; an interlaced image, whose passes revisit every row, needs block_rows =
// its height. Same longjmp rule as decode_png_header.
bool decode_png_rows(Png &r, const PngLayout &layout, int passes, int block_rows, png_bytep *rows, Image &img) {
    png_structp png = r.png;
    if (setjmp(png_jmpbuf(png))) return false;
    const int h = int(layout.height);
    if (passes > 1) {
        png_read_image(png, rows);
        samples_to_float(rows, 0, h, layout, img);
    } else {
        for (int y = 0; y < h; y += block_rows) {
            const int n = std::min(block_rows, h - y);
            png_read_rows(png, rows, nullptr, png_uint_32(n));
            samples_to_float(rows, y, n, layout, img);
        }
    }
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
    const int passes = decode_png_header(reader, in.file.get(), in.path, limits, layout);
    Image img;
    bool ok = passes > 0;
    if (ok) {
        img = new_image(int(layout.width), int(layout.height), layout.channels);
        // A block of rows of about 1 MiB (the whole image when interlaced), not a copy of the image:
        // decoded rows go straight on into the float image.
        const int block_rows = passes > 1 ? int(layout.height)
                                          : int(std::clamp<size_t>((1u << 20) / layout.row_bytes, 1, layout.height));
        std::vector<png_byte> block(layout.row_bytes * size_t(block_rows));
        std::vector<png_bytep> rows(block_rows);
        for (int y = 0; y < block_rows; y++) rows[y] = block.data() + size_t(y) * layout.row_bytes;
        ok = decode_png_rows(reader, layout, passes, block_rows, rows.data(), img);
    }
    if (!ok) {
        std::string reason = std::string("bad PNG: ") + reader.messages.error;
        if (*reader.messages.warning) reason += std::string(" (after warning: ") + reader.messages.warning + ")";
        if (reason.find("user limit") != std::string::npos) {
            reason += " (ReadLimits allows " + std::to_string(limits.max_width) + "x" +
                      std::to_string(limits.max_height) + ")";
        }
        fail(in.path, reason);
    }
    return img;
}

namespace {

// v clamped to [0, 1] (NaN to 0), scaled and rounded half away from zero, as lround(v *
// full_scale) would; branch-free so that the row loops vectorise. For 0 <= p < 2^24, p minus its
// integer part is exact, so the comparison with 0.5 decides exactly.
inline uint16_t quantise(float v, float full_scale) {
    const float c = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
    const float p = c * full_scale;
    const int t = int(p);
    return uint16_t(t + (p - float(t) >= 0.5f));
}

// The filter types (PNG specification, 9.2); the byte before each filtered row.
enum Filter : png_byte { kNone = 0, kSub = 1, kUp = 2, kAverage = 3, kPaeth = 4 };

png_byte paeth(int a, int b, int c) {
    const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
    return png_byte(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// row filtered by f into out[1..n], out[0] = f; prev is the row above (zeros above the first),
// bpp the bytes per pixel. A loop per filter, so that Sub and Up (the fast encoding's) vectorise;
// the first bpp bytes have no left neighbour (taken as 0).
void filter_row(Filter f, const png_byte *row, const png_byte *prev, size_t n, size_t bpp, png_byte *out) {
    out[0] = f;
    png_byte *o = out + 1;
    const size_t first = std::min(bpp, n);
    switch (f) {
    case kNone:
        std::memcpy(o, row, n);
        break;
    case kSub:
        std::memcpy(o, row, first);
        for (size_t i = first; i < n; i++) o[i] = png_byte(row[i] - row[i - bpp]);
        break;
    case kUp:
        for (size_t i = 0; i < n; i++) o[i] = png_byte(row[i] - prev[i]);
        break;
    case kAverage:
        for (size_t i = 0; i < first; i++) o[i] = png_byte(row[i] - prev[i] / 2);
        for (size_t i = first; i < n; i++) o[i] = png_byte(row[i] - (row[i - bpp] + prev[i]) / 2);
        break;
    case kPaeth:
        for (size_t i = 0; i < first; i++) o[i] = png_byte(row[i] - prev[i]);  // Paeth(0, b, 0) = b
        for (size_t i = first; i < n; i++) o[i] = png_byte(row[i] - paeth(row[i - bpp], prev[i], prev[i - bpp]));
        break;
    }
}

// libpng's choice when several filters are allowed: the one whose output has the smallest sum of
// the bytes taken as signed magnitudes.
uint64_t filtered_cost(const png_byte *out, size_t n) {
    uint64_t sum = 0;
    for (size_t i = 1; i <= n; i++) sum += uint64_t(std::abs(int(int8_t(out[i]))));
    return sum;
}

// The level that ISA-L's igzip encodes (when built with it), at its own level 1: on the 4096x4096
// photo of apps/bench/bench_commands.py, 6x faster than zlib's level 1 for a file 7% smaller
// (docs/performance.md). Other levels are zlib's.
constexpr int kIsalLevel = 1;

// Output space for deflating n bytes; grown if a stream needs more (incompressible data).
size_t deflate_room(size_t n) { return n + n / 8 + 1024; }

// data as a raw deflate stream (no zlib header or trailer: the bands share one) that ends in a
// sync flush, or when last in the end of the stream; "" or what went wrong.
std::string deflate_zlib(const std::vector<png_byte> &data, int level, bool last, std::vector<png_byte> &out) {
    z_stream zs{};
    // libpng's settings for filtered rows.
    if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_FILTERED) != Z_OK) return "zlib: cannot start a deflate stream";
    out.resize(deflate_room(data.size()));
    zs.next_in = const_cast<png_byte *>(data.data());
    size_t in_left = data.size();
    zs.next_out = out.data();
    zs.avail_out = uInt(std::min<size_t>(out.size(), UINT32_MAX));
    int status = Z_OK;
    // zlib counts in 32 bits: the input goes in pieces; until deflate leaves output space, when it
    // has taken all the input and done the flush.
    while (true) {
        const uInt piece = uInt(std::min<size_t>(in_left, 1u << 30));
        zs.avail_in = piece;
        in_left -= piece;
        const int flush = in_left > 0 ? Z_NO_FLUSH : last ? Z_FINISH : Z_SYNC_FLUSH;
        do {
            if (zs.avail_out == 0) {
                const size_t used = size_t(zs.next_out - out.data());
                out.resize(out.size() * 2);
                zs.next_out = out.data() + used;
                zs.avail_out = uInt(std::min<size_t>(out.size() - used, UINT32_MAX));
            }
            status = deflate(&zs, flush);
        } while (status != Z_STREAM_ERROR && (zs.avail_out == 0 || zs.avail_in > 0));
        if (status == Z_STREAM_ERROR || in_left == 0) break;
    }
    out.resize(size_t(zs.next_out - out.data()));
    deflateEnd(&zs);
    return status == Z_STREAM_ERROR ? "zlib: deflate failed" : "";
}

#ifdef BLURMIX_WITH_ISAL
// The same with ISA-L's igzip at its level 1.
std::string deflate_isal(const std::vector<png_byte> &data, bool last, std::vector<png_byte> &out) {
    isal_zstream zs;
    isal_deflate_init(&zs);
    std::vector<uint8_t> level_buf(ISAL_DEF_LVL1_DEFAULT);
    zs.level = 1;
    zs.level_buf = level_buf.data();
    zs.level_buf_size = uint32_t(level_buf.size());
    out.resize(deflate_room(data.size()));
    zs.next_out = out.data();
    zs.avail_out = uint32_t(std::min<size_t>(out.size(), UINT32_MAX));
    size_t in_at = 0;
    // ISA-L counts in 32 bits too: the input in pieces, the last marked as the end (or flushed).
    while (true) {
        const uint32_t piece = uint32_t(std::min<size_t>(data.size() - in_at, 1u << 30));
        zs.next_in = const_cast<uint8_t *>(data.data() + in_at);
        zs.avail_in = piece;
        in_at += piece;
        const bool final_piece = in_at == data.size();
        zs.end_of_stream = last && final_piece;
        zs.flush = final_piece && !last ? SYNC_FLUSH : NO_FLUSH;
        while (true) {
            if (isal_deflate(&zs) != COMP_OK) return "ISA-L: deflate failed";
            // Done with this piece once it is all taken and the output has room left (the flush or
            // the stream's end then written too: igzip_lib.h, isal_deflate).
            const bool ended = !zs.end_of_stream || zs.internal_state.state == ZSTATE_END;
            if (zs.avail_in == 0 && zs.avail_out > 0 && ended) break;
            if (zs.avail_out == 0) {
                const size_t used = size_t(zs.next_out - out.data());
                out.resize(out.size() * 2);
                zs.next_out = out.data() + used;
                zs.avail_out = uint32_t(std::min<size_t>(out.size() - used, UINT32_MAX));
            }
        }
        if (final_piece) break;
    }
    out.resize(size_t(zs.next_out - out.data()));
    return "";
}
#else
std::string deflate_isal(const std::vector<png_byte> &data, bool last, std::vector<png_byte> &out) {
    return deflate_zlib(data, kIsalLevel, last, out);
}
#endif

// The rows [y0, y1) of one band, deflated.
struct Band {
    int y0 = 0, y1 = 0;
    std::vector<png_byte> deflated;
    uLong adler = 1;     // Adler-32 of the band's filtered bytes
    size_t raw = 0;      // how many filtered bytes
    bool done = false;   // under BandEncoder's mutex
    std::string error;   // what went wrong, "" when nothing
};

// What the encoder's rows are made from: a float image, quantised row by row, or 8-bit rows
// drawn by the caller (a Picture's copied), which are the PNG's as they are.
struct Samples {
    const Image *image = nullptr;
    PictureRows rows;
    int width = 0, height = 0, channels = 0;
    explicit Samples(const Image &img)
        : image(&img), width(img.dim(0).extent()), height(img.dim(1).extent()), channels(img.dim(2).extent()) {}
    explicit Samples(const PictureRows &r) : rows(r), width(r.width), height(r.height), channels(r.channels) {}
};

class BandEncoder {
  public:
    BandEncoder(const Samples &samples, int bit_depth, const PngEncoding &enc)
        : samples_(samples), bit_depth_(bit_depth), enc_(enc) {
        const int height = samples.height;
        row_bytes_ = size_t(samples.width) * samples.channels * (bit_depth / 8);
        const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
        // Enough bands to keep every thread busy to the end, none so small that its fresh
        // window costs the file much (at least 1 MiB of rows each), none so large that the
        // filtered rows held for it weigh much beside the image (at most 64 MiB each).
        const size_t total = (row_bytes_ + 1) * size_t(height);
        const size_t by_size = std::max<size_t>(1, total / (1u << 20));
        const size_t bounded = std::max(std::min<size_t>(by_size, size_t(threads) * 4), total / (64u << 20) + 1);
        const int count = int(std::min<size_t>(bounded, size_t(height)));
        bands_.resize(count);
        for (int k = 0; k < count; k++) {
            bands_[k].y0 = int(int64_t(height) * k / count);
            bands_[k].y1 = int(int64_t(height) * (k + 1) / count);
        }
        for (unsigned t = 0; t < std::min<unsigned>(threads, count); t++) workers_.emplace_back([this] { work(); });
    }
    ~BandEncoder() {
        cancelled_ = true;
        for (std::thread &t : workers_) t.join();
    }
    int count() const { return int(bands_.size()); }
    // Band k once it is done (the error, if any, in its error).
    Band &wait(int k) {
        std::unique_lock<std::mutex> lock(mutex_);
        done_changed_.wait(lock, [&] { return bands_[k].done; });
        return bands_[k];
    }
    void release(int k) { std::vector<png_byte>().swap(bands_[k].deflated); }

  private:
    void work() {
        std::vector<png_byte> raw;
        for (int k = next_++; k < count() && !cancelled_; k = next_++) {
            Band &b = bands_[k];
            try {
                encode(b, k + 1 == count(), raw);
            } catch (const std::bad_alloc &) {
                b.error = "out of memory";
            } catch (const std::exception &e) {  // from a PictureRows' row function
                b.error = std::string("drawing a row: ") + e.what();
            } catch (...) {
                b.error = "drawing a row failed";
            }
            std::lock_guard<std::mutex> lock(mutex_);
            b.done = true;
            done_changed_.notify_all();
        }
    }

    // Row y, interleaved and quantised, big-endian for 16 bits; levels is scratch for a row of
    // every channel.
    void quantise_row(int y, png_byte *row, std::vector<uint16_t> &levels) const {
        if (!samples_.image) return samples_.rows.row(y, row);
        const Image &img_ = *samples_.image;
        const int width = img_.dim(0).extent(), c = img_.dim(2).extent();
        const float full_scale = bit_depth_ == 16 ? 65535.0f : 255.0f;
        const int64_t xs = img_.dim(0).stride();
        // A channel's row at once (the dense case vectorises), then the channels interleaved.
        for (int k = 0; k < c; k++) {
            const float *src = &img_(img_.dim(0).min(), img_.dim(1).min() + y, img_.dim(2).min() + k);
            uint16_t *q = levels.data() + size_t(k) * width;
            if (xs == 1) {
                for (int x = 0; x < width; x++) q[x] = quantise(src[x], full_scale);
            } else {
                for (int x = 0; x < width; x++) q[x] = quantise(src[x * xs], full_scale);
            }
        }
        switch (c) {
        case 1: interleave<1>(levels.data(), width, row); break;
        case 2: interleave<2>(levels.data(), width, row); break;
        case 3: interleave<3>(levels.data(), width, row); break;
        default: interleave<4>(levels.data(), width, row); break;
        }
    }

    // C channel rows of levels (each width long) into one row of interleaved samples.
    template <int C>
    void interleave(const uint16_t *levels, int width, png_byte *row) const {
        if (bit_depth_ == 8) {
            for (int x = 0; x < width; x++) {
                for (int k = 0; k < C; k++) row[size_t(x) * C + k] = png_byte(levels[size_t(k) * width + x]);
            }
        } else {
            for (int x = 0; x < width; x++) {
                for (int k = 0; k < C; k++) {
                    const uint16_t q = levels[size_t(k) * width + x];
                    row[2 * (size_t(x) * C + k)] = png_byte(q >> 8);
                    row[2 * (size_t(x) * C + k) + 1] = png_byte(q & 0xff);
                }
            }
        }
    }

    // raw: the worker's buffer for the band's filtered rows, kept from band to band.
    void encode(Band &b, bool last, std::vector<png_byte> &raw) {
        const size_t n = row_bytes_, bpp = size_t(samples_.channels) * (bit_depth_ / 8);
        std::vector<png_byte> prev(n, 0), row(n), trial(n + 1);
        std::vector<uint16_t> levels(samples_.image ? size_t(samples_.width) * samples_.channels : 0);
        if (b.y0 > 0) quantise_row(b.y0 - 1, prev.data(), levels);  // the filters look at the row above
        static const Filter fast[] = {kSub, kUp}, all[] = {kNone, kSub, kUp, kAverage, kPaeth};
        const Filter *filters = enc_.all_filters ? all : fast;
        const int filter_count = enc_.all_filters ? 5 : 2;
        b.raw = (n + 1) * size_t(b.y1 - b.y0);
        raw.resize(b.raw);
        for (int y = b.y0; y < b.y1 && !cancelled_; y++) {
            quantise_row(y, row.data(), levels);
            png_byte *best = &raw[(n + 1) * size_t(y - b.y0)];
            uint64_t best_cost = UINT64_MAX;
            for (int f = 0; f < filter_count; f++) {
                filter_row(filters[f], row.data(), prev.data(), n, bpp, trial.data());
                const uint64_t cost = filtered_cost(trial.data(), n);
                if (cost < best_cost) {
                    best_cost = cost;
                    std::memcpy(best, trial.data(), n + 1);
                }
            }
            prev.swap(row);
        }
        if (cancelled_) return;
        b.adler = adler32_z(1, raw.data(), raw.size());
        b.error = enc_.zlib_level == kIsalLevel ? deflate_isal(raw, last, b.deflated)
                                                : deflate_zlib(raw, enc_.zlib_level, last, b.deflated);
    }

    const Samples samples_;
    const int bit_depth_;
    const PngEncoding enc_;
    size_t row_bytes_ = 0;
    std::vector<Band> bands_;
    std::atomic<int> next_{0};
    std::atomic<bool> cancelled_{false};
    std::mutex mutex_;
    std::condition_variable done_changed_;
    std::vector<std::thread> workers_;  // last: started once the rest is set up
};

// The zlib header for a deflate stream with a 32 KiB window (RFC 1950): FLEVEL from the level,
// FCHECK making the pair a multiple of 31.
void zlib_header(int level, png_byte out[2]) {
    const int flevel = level < 2 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3;
    const int cmf = 0x78, flg = flevel << 6;
    out[0] = png_byte(cmf);
    out[1] = png_byte(flg + 31 - (cmf * 256 + flg) % 31);
}

// Same longjmp rule as decode_png: nothing with a destructor in this frame. The bands are
// written in order as they are done, each as IDAT chunks of at most 1 GiB.
bool encode_png(Png &w, FILE *file, const Samples &img, int bit_depth, const PngEncoding &enc, BandEncoder &bands,
                const char **band_error) {
    static const int color_types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                      PNG_COLOR_TYPE_RGB_ALPHA};
    static const png_byte idat[5] = "IDAT", iend[5] = "IEND";
    png_structp png = w.png;
    png_infop info = w.info;
    if (setjmp(png_jmpbuf(png))) return false;
    png_init_io(png, file);
    png_set_IHDR(png, info, img.width, img.height, bit_depth, color_types[img.channels - 1],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_byte header[2];
    zlib_header(enc.zlib_level, header);
    uLong adler = 1;
    constexpr size_t kMaxChunk = size_t(1) << 30;
    for (int k = 0; k < bands.count(); k++) {
        Band &b = bands.wait(k);
        if (!b.error.empty()) {
            *band_error = b.error.c_str();
            return false;
        }
        adler = k == 0 ? b.adler : adler32_combine(adler, b.adler, z_off_t(b.raw));
        const bool last_band = k + 1 == bands.count();
        size_t at = 0;
        do {
            const size_t piece = std::min(kMaxChunk, b.deflated.size() - at);
            const bool first = k == 0 && at == 0, last = last_band && at + piece == b.deflated.size();
            png_write_chunk_start(png, idat, png_uint_32(piece + (first ? 2 : 0) + (last ? 4 : 0)));
            if (first) png_write_chunk_data(png, header, 2);
            png_write_chunk_data(png, b.deflated.data() + at, piece);
            if (last) {
                const png_byte trailer[4] = {png_byte(adler >> 24), png_byte(adler >> 16), png_byte(adler >> 8),
                                             png_byte(adler)};
                png_write_chunk_data(png, trailer, 4);
            }
            png_write_chunk_end(png);
            at += piece;
        } while (at < b.deflated.size());
        bands.release(k);
    }
    png_write_chunk(png, iend, nullptr, 0);
    return true;
}

}  // namespace

bool has_png_signature(const unsigned char *bytes, size_t n) { return n >= 8 && png_sig_cmp(bytes, 0, 8) == 0; }

}  // namespace blurmix::io

namespace blurmix {

namespace {

void write_png(const std::string &path, const io::Samples &samples, int bit_depth, const PngEncoding &enc) {
    if (enc.zlib_level < 0 || enc.zlib_level > 9) io::fail(path, "zlib level must be 0..9, not " + std::to_string(enc.zlib_level));
    AtomicFile out(path);
    io::Png writer(true);
    const char *band_error = nullptr;
    try {
        io::BandEncoder bands(samples, bit_depth, enc);
        if (!io::encode_png(writer, out.file(), samples, bit_depth, enc, bands, &band_error)) {
            io::fail(path, std::string("cannot write PNG: ") + (band_error ? band_error : writer.messages.error));
        }
    } catch (const std::bad_alloc &) {
        io::fail(path, "cannot write PNG: out of memory");
    }
    out.commit();
}

}  // namespace

void save_png(const std::string &path, const Image &img, int bit_depth, const PngEncoding &enc) {
    if (bit_depth != 8 && bit_depth != 16) io::fail(path, "PNG bit depth must be 8 or 16, not " + std::to_string(bit_depth));
    io::check_saveable(path, img);
    write_png(path, io::Samples(img), bit_depth, enc);
}

void save_png(const std::string &path, const Picture &pic, const PngEncoding &enc) {
    const int c = pic.dim(2).extent();
    const int64_t xs = pic.dim(0).stride(), cs = pic.dim(2).stride();
    PictureRows rows{pic.dim(0).extent(), pic.dim(1).extent(), c, [&](int y, uint8_t *row) {
        const uint8_t *src = &pic(pic.dim(0).min(), pic.dim(1).min() + y, pic.dim(2).min());
        if (cs == 1 && xs == c) {
            std::memcpy(row, src, size_t(pic.dim(0).extent()) * c);  // channels interleaved without gaps
            return;
        }
        for (int x = 0; x < pic.dim(0).extent(); x++) {
            for (int k = 0; k < c; k++) row[size_t(x) * c + k] = src[x * xs + k * cs];
        }
    }};
    save_png(path, rows, enc);
}

void save_png(const std::string &path, const PictureRows &rows, const PngEncoding &enc) {
    io::check_saveable(path, rows.width, rows.height, rows.channels);
    if (!rows.row) io::fail(path, "no rows to write");
    write_png(path, io::Samples(rows), 8, enc);
}

uint8_t to_8bit(float v) { return uint8_t(io::quantise(v, 255.0f)); }

}  // namespace blurmix
