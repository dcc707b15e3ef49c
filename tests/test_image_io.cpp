// Tests for runtime/image_io and runtime/colormap. Every input, good or bad,
// is generated here into a private temporary directory.
#include <catch2/catch.hpp>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "colormap.h"
#include "image_io.h"
#include "png_writer.h"

using namespace blurmix;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using Bytes = std::vector<unsigned char>;
using test::RawPng;
using test::write_raw_png;

namespace {

// A fresh directory, removed with its contents when the test ends.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string t = (std::filesystem::temp_directory_path() / "blurmix-io-XXXXXX").string();
        REQUIRE(mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string &name) const { return (path / name).string(); }
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto &e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
        return names;
    }
};

Bytes read_bytes(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f);
    return Bytes(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string &path, const Bytes &data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char *>(data.data()), std::streamsize(data.size()));
    REQUIRE(f.good());
}

void append(Bytes &out, const std::string &s) {
    out.insert(out.end(), s.begin(), s.end());
}

template <class T>
void append_raw(Bytes &out, const std::vector<T> &values) {
    const auto *p = reinterpret_cast<const unsigned char *>(values.data());
    out.insert(out.end(), p, p + values.size() * sizeof(T));
}

// The message of the blurmix::Error that f throws; "" if it throws nothing.
// Any other exception escapes and fails the test.
std::string error_of(const std::function<void()> &f) {
    try {
        f();
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

std::string load_error(const std::string &path, const ReadLimits &limits = {}) {
    return error_of([&] { load_image(path, limits); });
}

// ---- building PNG and npy files by hand ----

uint32_t crc32_of(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

void put_be32(Bytes &out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back((unsigned char)(v >> shift));
}

void append_chunk(Bytes &out, const std::string &type, const Bytes &data) {
    put_be32(out, uint32_t(data.size()));
    Bytes body(type.begin(), type.end());
    body.insert(body.end(), data.begin(), data.end());
    out.insert(out.end(), body.begin(), body.end());
    put_be32(out, crc32_of(body.data(), body.size()));
}

const Bytes kPngSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// A PNG whose IHDR declares width x height RGB, followed by a token IDAT.
Bytes png_with_header_only(uint32_t width, uint32_t height) {
    Bytes png = kPngSignature, ihdr;
    put_be32(ihdr, width);
    put_be32(ihdr, height);
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    append_chunk(png, "IHDR", ihdr);
    append_chunk(png, "IDAT", {0x78, 0x9c, 0x03, 0x00});
    append_chunk(png, "IEND", {});
    return png;
}

// Offsets where chunks start (and the file end), after the signature.
std::vector<size_t> chunk_boundaries(const Bytes &png) {
    std::vector<size_t> offsets;
    size_t pos = 8;
    while (pos + 8 <= png.size()) {
        offsets.push_back(pos);
        pos += 12 + (size_t(png[pos]) << 24 | size_t(png[pos + 1]) << 16 | size_t(png[pos + 2]) << 8 | png[pos + 3]);
    }
    offsets.push_back(pos);
    return offsets;
}

// A .npy file with the given version and literal header text (padding and the
// newline are the caller's business, so odd headers can be tested).
Bytes npy_file(int major, const std::string &header) {
    Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    uint32_t n = uint32_t(header.size());
    out.push_back((unsigned char)(n & 0xff));
    out.push_back((unsigned char)(n >> 8));
    if (major >= 2) {
        out.push_back((unsigned char)(n >> 16));
        out.push_back((unsigned char)(n >> 24));
    }
    append(out, header);
    return out;
}

Bytes npy_f4(const std::string &header, size_t count) {
    Bytes out = npy_file(1, header);
    std::vector<float> data(count);
    for (size_t i = 0; i < count; i++) data[i] = float(i) * 0.5f - 1.0f;
    append_raw(out, data);
    return out;
}

std::string dict(const std::string &descr, const std::string &order, const std::string &shape) {
    return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }\n";
}

// A small RGB picture with some structure, saved by save_png.
Bytes sample_png(const TempDir &dir) {
    Image img(13, 11, 3);
    img.for_each_element([&](int x, int y, int c) { img(x, y, c) = float((x * 7 + y * 3 + c * 5) % 17) / 16.0f; });
    std::string path = dir.file("sample.png");
    save_png(path, img);
    return read_bytes(path);
}

}  // namespace

// ---- round trips ----

TEST_CASE("PNG round trip quantises to the exact 8- and 16-bit levels", "[image_io][png]") {
    TempDir dir;
    const float values[] = {-0.3f, 0.0f, 0.2f, 0.5f, 1.0f, 1.7f, 0.998f, 0.002f};
    const int q8[] = {0, 0, 51, 128, 255, 255, 254, 1};
    const int q16[] = {0, 0, 13107, 32768, 65535, 65535, 65404, 131};
    const int colour_type[] = {0, 4, 2, 6};  // grey, grey+alpha, RGB, RGBA

    for (int bits : {8, 16}) {
        for (int c = 1; c <= 4; c++) {
            INFO("bit depth " << bits << ", channels " << c);
            Image img(3, 2, c);
            img.for_each_element([&](int x, int y, int k) { img(x, y, k) = values[(x + 3 * y + k) % 8]; });
            std::string path = dir.file("rt" + std::to_string(bits) + "_" + std::to_string(c) + ".png");
            save_png(path, img, bits);

            Bytes file = read_bytes(path);
            REQUIRE(file.size() > 26);
            CHECK(int(file[24]) == bits);
            CHECK(int(file[25]) == colour_type[c - 1]);

            Image back = load_image(path);
            REQUIRE(back.width() == 3);
            REQUIRE(back.height() == 2);
            REQUIRE(back.channels() == c);
            back.for_each_element([&](int x, int y, int k) {
                int i = (x + 3 * y + k) % 8;
                float expected = bits == 8 ? float(q8[i]) / 255.0f : float(q16[i]) / 65535.0f;
                CHECK(back(x, y, k) == expected);
            });
        }
    }
}

// The encoder deflates bands of rows on threads of their own and joins them into one zlib stream
// (png_codec.cpp): an image of several bands must come back exactly, with every filter.
TEST_CASE("PNG save of a large image (several bands) round-trips exactly", "[image_io][png]") {
    TempDir dir;
    const int w = 1100, h = 1000;  // 8-bit RGB: 3.3 MB of rows, three bands (the encoder's are >= 1 MiB)
    for (int bits : {8, 16}) {
        for (bool compact : {false, true}) {
            for (int c : {1, 3}) {
                INFO("bit depth " << bits << ", compact " << compact << ", channels " << c);
                const float full = bits == 8 ? 255.0f : 65535.0f;
                Image img(w, h, c);
                uint32_t state = 12345;
                img.for_each_element([&](int x, int y, int k) {
                    state = state * 1664525u + 1013904223u;  // smooth structure plus noise: every filter wins somewhere
                    const int level = (x * 3 + y * 2 + k * 40) % 200 + int(state >> 29) + (x > w / 2 ? int(state >> 24) : 0);
                    img(x, y, k) = float(level % 256) * (full / 255.0f) / full;
                });
                const std::string path = dir.file("large.png");
                save_png(path, img, bits, compact ? PngEncoding::compact() : PngEncoding{});
                Bytes file = read_bytes(path);
                int idat = 0;  // more than one band means more than one IDAT chunk
                for (size_t at = 8; at + 8 <= file.size();) {
                    const size_t len = size_t(file[at]) << 24 | file[at + 1] << 16 | file[at + 2] << 8 | file[at + 3];
                    idat += std::memcmp(&file[at + 4], "IDAT", 4) == 0;
                    at += 12 + len;
                }
                if (size_t(w) * h * c * (bits / 8) >= (3u << 20)) CHECK(idat >= 3);
                Image back = load_png(path);
                REQUIRE(back.width() == w);
                REQUIRE(back.height() == h);
                REQUIRE(back.channels() == c);
                int wrong = 0;
                back.for_each_element([&](int x, int y, int k) { wrong += back(x, y, k) != img(x, y, k); });
                CHECK(wrong == 0);
            }
        }
    }
}

TEST_CASE("PNG save writes NaN as 0 and honours buffer mins", "[image_io][png]") {
    TempDir dir;
    Image img(2, 1, 1);
    img.set_min(5, -3, 0);  // a crop of a larger image keeps its coordinates
    img(5, -3, 0) = std::numeric_limits<float>::quiet_NaN();
    img(6, -3, 0) = 0.6f;
    save_png(dir.file("nan.png"), img);
    Image back = load_png(dir.file("nan.png"));
    CHECK(back(0, 0, 0) == 0.0f);
    CHECK(back(1, 0, 0) == 153.0f / 255.0f);
}

TEST_CASE("8-bit pictures and rows drawn on the fly are written as they are", "[image_io][png]") {
    TempDir dir;
    const int w = 700, h = 1300;  // 2.7 MB of RGB rows: several bands, so rows are drawn on several threads
    auto sample = [](int x, int y, int k) { return uint8_t((x * 7 + y * 3 + k * 91 + (x * y) % 13) & 0xff); };
    Picture interleaved = Picture::make_interleaved(w, h, 3), planar(w, h, 3);
    interleaved.for_each_element([&](int x, int y, int k) { interleaved(x, y, k) = sample(x, y, k); });
    planar.for_each_element([&](int x, int y, int k) { planar(x, y, k) = sample(x, y, k); });
    std::atomic<int> drawn{0};
    PictureRows rows{w, h, 3, [&](int y, uint8_t *out) {
        for (int x = 0; x < w; x++) {
            for (int k = 0; k < 3; k++) out[3 * x + k] = sample(x, y, k);
        }
        drawn++;
    }};
    save_png(dir.file("interleaved.png"), interleaved);
    save_png(dir.file("planar.png"), planar);  // not interleaved: gathered sample by sample
    save_png(dir.file("rows.png"), rows);
    // Every row once, and the row above each band but the first again (its filters look at it):
    // several bands, so more than h.
    CHECK(drawn > h);
    CHECK(drawn < h + 64);
    for (const char *name : {"interleaved.png", "planar.png", "rows.png"}) {
        INFO(name);
        Image back = load_png(dir.file(name));
        REQUIRE(back.width() == w);
        REQUIRE(back.height() == h);
        REQUIRE(back.channels() == 3);
        int wrong = 0;
        back.for_each_element([&](int x, int y, int k) { wrong += back(x, y, k) != sample(x, y, k) / 255.0f; });
        CHECK(wrong == 0);
    }
    // The same samples as a float image quantised by save_png: the same file.
    Image floats(w, h, 3);
    floats.for_each_element([&](int x, int y, int k) { floats(x, y, k) = sample(x, y, k) / 255.0f; });
    save_png(dir.file("floats.png"), floats);
    CHECK(read_bytes(dir.file("floats.png")) == read_bytes(dir.file("rows.png")));
    CHECK(to_8bit(0.5f) == 128);
    CHECK(to_8bit(std::numeric_limits<float>::quiet_NaN()) == 0);
    CHECK(to_8bit(2.0f) == 255);

    const std::string bad = dir.file("bad.png");
    CHECK_THAT(error_of([&] { save_png(bad, PictureRows{w, h, 5, rows.row}); }), Contains("5 channels"));
    CHECK_THAT(error_of([&] { save_png(bad, PictureRows{0, h, 3, rows.row}); }), Contains("empty image"));
    CHECK_THAT(error_of([&] { save_png(bad, PictureRows{w, h, 3, {}}); }), Contains("no rows"));
    PictureRows failing{w, h, 3, [&](int y, uint8_t *out) {
        if (y == h / 2) throw std::runtime_error("no colour for row " + std::to_string(y));
        rows.row(y, out);
    }};
    CHECK_THAT(error_of([&] { save_png(bad, failing); }), StartsWith(bad + ": ") && Contains("no colour for row 650"));
    CHECK_FALSE(std::filesystem::exists(bad));
}

TEST_CASE("npy round trip is exact for 2-D and 3-D shapes", "[image_io][npy]") {
    TempDir dir;
    struct Shape {
        int w, h, c;
        std::string text;
    };
    const Shape shapes[] = {{1, 1, 1, "(1, 1)"},    {3, 7, 1, "(7, 3)"},    {7, 3, 1, "(3, 7)"},
                            {1, 1, 3, "(1, 1, 3)"}, {3, 7, 2, "(7, 3, 2)"}, {7, 3, 4, "(3, 7, 4)"}};
    for (const Shape &s : shapes) {
        INFO("shape " << s.text);
        Image img(s.w, s.h, s.c);
        img.for_each_element([&](int x, int y, int k) {
            img(x, y, k) = (x - 2.5f) * 1e-3f + y * 123.25f - k * 1e7f + (x == 0 && y == 0 ? 1e-42f : 0.0f);
        });
        std::string path = dir.file("rt.npy");
        save_npy(path, img);

        Bytes file = read_bytes(path);
        std::string head(file.begin(), file.begin() + 128 < file.end() ? file.begin() + 128 : file.end());
        CHECK_THAT(head, Contains("'shape': " + s.text));
        size_t data_start = 10 + (file[8] | file[9] << 8);
        CHECK(data_start % 64 == 0);
        CHECK(file.size() == data_start + size_t(s.w) * s.h * s.c * 4);
        // C order: element [y][x][k] is at ((y * w + x) * c + k).
        float first_row_second;
        std::memcpy(&first_row_second, file.data() + data_start + size_t(s.c) * 4 * (s.w > 1 ? 1 : 0), 4);
        CHECK(first_row_second == img(s.w > 1 ? 1 : 0, 0, 0));

        Image back = load_image(path);
        REQUIRE(back.width() == s.w);
        REQUIRE(back.height() == s.h);
        REQUIRE(back.channels() == s.c);
        back.for_each_element([&](int x, int y, int k) { CHECK(back(x, y, k) == img(x, y, k)); });
    }
}

TEST_CASE("Maps round trip through npy and load from grey PNG", "[image_io][npy]") {
    TempDir dir;
    Map map(4, 3);
    map.for_each_element([&](int x, int y) { map(x, y) = x + 10.0f * y; });
    save_npy(dir.file("m.npy"), map);
    CHECK_THAT(std::string((const char *)read_bytes(dir.file("m.npy")).data() + 10, 60), Contains("(3, 4)"));
    Map back = load_map(dir.file("m.npy"));
    REQUIRE(back.width() == 4);
    REQUIRE(back.height() == 3);
    back.for_each_element([&](int x, int y) { CHECK(back(x, y) == x + 10.0f * y); });

    Image grey(2, 2, 1);
    grey.fill(1.0f);
    save_png(dir.file("g.png"), grey);
    CHECK(load_map(dir.file("g.png"))(1, 1) == 1.0f);

    Image rgb(2, 2, 3);
    rgb.fill(0.0f);
    save_image(dir.file("rgb.npy"), rgb);
    CHECK_THAT(error_of([&] { load_map(dir.file("rgb.npy")); }),
               StartsWith(dir.file("rgb.npy") + ": ") && Contains("single-channel") && Contains("3 channels"));
}

// ---- npy headers written by other tools ----

TEST_CASE("npy headers of versions 1 to 3 in any key order and spacing", "[image_io][npy]") {
    TempDir dir;
    std::string path = dir.file("h.npy");

    SECTION("version 1, no spaces, keys reordered, no trailing comma, <f8 narrowed") {
        Bytes file = npy_file(1, "{'shape':(2,3),'fortran_order':False,'descr':'<f8'}\n");
        std::vector<double> data = {1.5, -2.25, 1e30, 0.1, 1e-50, -0.0};
        append_raw(file, data);
        write_bytes(path, file);
        Image img = load_image(path);
        REQUIRE(img.width() == 3);
        REQUIRE(img.height() == 2);
        REQUIRE(img.channels() == 1);
        for (int i = 0; i < 6; i++) CHECK(img(i % 3, i / 3, 0) == float(data[i]));
    }
    SECTION("version 2 with double quotes and a 3-D shape") {
        Bytes file = npy_file(2, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 1, 3,)}");
        append_raw(file, std::vector<float>{1, 2, 3, 4, 5, 6});
        write_bytes(path, file);
        Image img = load_npy(path);
        REQUIRE(img.width() == 1);
        REQUIRE(img.height() == 2);
        REQUIRE(img.channels() == 3);
        CHECK(img(0, 0, 2) == 3.0f);
        CHECK(img(0, 1, 0) == 4.0f);
    }
    SECTION("version 3, Python 2 longs, tabs, trailing garbage after the data") {
        Bytes file = npy_file(3, "{ 'descr' :\t'<f4' , 'shape' : ( 1L , 2L ) , 'fortran_order' : False , }   \n");
        append_raw(file, std::vector<float>{7, 8});
        append(file, "trailing bytes are ignored");
        write_bytes(path, file);
        Image img = load_image(path);
        REQUIRE(img.width() == 2);
        CHECK(img(1, 0, 0) == 8.0f);
    }
}

// ---- PNG kinds made with libpng directly ----

TEST_CASE("PNG kinds written by libpng load pixel for pixel", "[image_io][png]") {
    TempDir dir;
    std::string path = dir.file("kind.png");

    SECTION("8-bit palette with tRNS becomes RGBA") {
        RawPng p{3, 2, 8, PNG_COLOR_TYPE_PALETTE};
        p.palette = {{255, 0, 0}, {0, 128, 0}, {10, 20, 30}};
        p.palette_alpha = {0, 200};  // the third entry stays opaque
        p.rows = {{0, 1, 2}, {2, 1, 0}};
        write_raw_png(path, p);
        Image img = load_image(path);
        REQUIRE(img.channels() == 4);
        const float expected[2][3][4] = {{{255, 0, 0, 0}, {0, 128, 0, 200}, {10, 20, 30, 255}},
                                         {{10, 20, 30, 255}, {0, 128, 0, 200}, {255, 0, 0, 0}}};
        img.for_each_element([&](int x, int y, int k) { CHECK(img(x, y, k) == expected[y][x][k] / 255.0f); });
    }
    SECTION("2-bit palette without tRNS becomes RGB") {
        RawPng p{5, 1, 2, PNG_COLOR_TYPE_PALETTE};
        p.palette = {{0, 0, 0}, {1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
        p.rows = {{0b00011011, 0b01000000}};  // indices 0 1 2 3 1
        write_raw_png(path, p);
        Image img = load_image(path);
        REQUIRE(img.channels() == 3);
        const int index[] = {0, 1, 2, 3, 1};
        for (int x = 0; x < 5; x++) {
            const png_color &c = p.palette[index[x]];
            CHECK(img(x, 0, 0) == c.red / 255.0f);
            CHECK(img(x, 0, 1) == c.green / 255.0f);
            CHECK(img(x, 0, 2) == c.blue / 255.0f);
        }
    }
    SECTION("1-bit grey spanning two bytes per row") {
        RawPng p{10, 2, 1, PNG_COLOR_TYPE_GRAY};
        p.rows = {{0b10110000, 0b11000000}, {0b01001111, 0b00000000}};
        write_raw_png(path, p);
        Image img = load_image(path);
        REQUIRE(img.channels() == 1);
        const char *bits[] = {"1011000011", "0100111100"};
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 10; x++) CHECK(img(x, y, 0) == (bits[y][x] == '1' ? 1.0f : 0.0f));
        }
    }
    SECTION("4-bit grey") {
        RawPng p{5, 1, 4, PNG_COLOR_TYPE_GRAY};
        p.rows = {{0x0f, 0x79, 0x30}};  // 0 15 7 9 3
        write_raw_png(path, p);
        Image img = load_image(path);
        const int level[] = {0, 15, 7, 9, 3};
        for (int x = 0; x < 5; x++) CHECK(img(x, 0, 0) == float(level[x] * 17) / 255.0f);
    }
    SECTION("8-bit grey with a tRNS colour gains alpha") {
        RawPng p{3, 1, 8, PNG_COLOR_TYPE_GRAY};
        p.rows = {{5, 77, 200}};
        p.has_trans_colour = true;
        p.trans_colour.gray = 77;
        write_raw_png(path, p);
        Image img = load_image(path);
        REQUIRE(img.channels() == 2);
        CHECK(img(0, 0, 1) == 1.0f);
        CHECK(img(1, 0, 1) == 0.0f);
        CHECK(img(1, 0, 0) == 77.0f / 255.0f);
    }
    SECTION("Adam7 interlaced RGB") {
        RawPng p{11, 9, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7};
        for (int y = 0; y < 9; y++) {
            Bytes row;
            for (int x = 0; x < 11; x++) row.insert(row.end(), {(unsigned char)(x * 20), (unsigned char)(y * 25), 7});
            p.rows.push_back(row);
        }
        write_raw_png(path, p);
        REQUIRE(read_bytes(path)[28] == 1);  // the interlace byte of IHDR
        Image img = load_image(path);
        REQUIRE(img.width() == 11);
        REQUIRE(img.height() == 9);
        img.for_each_element([&](int x, int y, int k) {
            float expected = k == 0 ? x * 20 : k == 1 ? y * 25 : 7;
            CHECK(img(x, y, k) == expected / 255.0f);
        });
    }
    SECTION("16-bit grey+alpha") {
        RawPng p{2, 1, 16, PNG_COLOR_TYPE_GRAY_ALPHA};
        p.rows = {{0x12, 0x34, 0xff, 0xff, 0x00, 0x01, 0x80, 0x00}};
        write_raw_png(path, p);
        Image img = load_image(path);
        REQUIRE(img.channels() == 2);
        CHECK(img(0, 0, 0) == float(0x1234) / 65535.0f);
        CHECK(img(0, 0, 1) == 1.0f);
        CHECK(img(1, 0, 0) == 1.0f / 65535.0f);
        CHECK(img(1, 0, 1) == float(0x8000) / 65535.0f);
    }
}

// ---- files that must be refused ----

TEST_CASE("Unusable paths are refused with the path in the message", "[image_io][errors]") {
    TempDir dir;
    std::string empty = dir.file("empty.png"), missing = dir.file("missing.png"), sub = dir.file("sub.npy");
    write_bytes(empty, {});
    std::filesystem::create_directory(sub);
    write_bytes(dir.file("gif.png"), {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0});
    write_bytes(dir.file("tiny"), {0x93, 'N', 'U', 'M', 'P', 'Y', 1});

    CHECK_THAT(load_error(empty), StartsWith(empty + ": ") && Contains("empty"));
    CHECK_THAT(load_error(missing), StartsWith(missing + ": ") && Contains("No such file"));
    CHECK_THAT(load_error(sub), StartsWith(sub + ": ") && Contains("directory"));
    CHECK_THAT(load_error(dir.file("gif.png")), StartsWith(dir.file("gif.png") + ": not a PNG or .npy file"));
    CHECK_THAT(load_error(dir.file("tiny")), StartsWith(dir.file("tiny") + ": ") && Contains("truncated"));
    CHECK_THAT(error_of([&] { load_png(dir.file("gif.png")); }), Contains("not a PNG file"));
    CHECK_THAT(error_of([&] { load_npy(dir.file("gif.png")); }), Contains("not a .npy file"));
    CHECK_THAT(error_of([&] { load_map(missing); }), StartsWith(missing + ": "));
    CHECK_THAT(load_error("/dev/null"), StartsWith("/dev/null: ") && Contains("not a regular file"));

    std::string locked = dir.file("locked.npy");
    write_bytes(locked, npy_f4(dict("<f4", "False", "(1, 1)"), 1));
    chmod(locked.c_str(), 0);
    if (geteuid() == 0) {
        WARN("running as root: cannot test an unreadable file");
    } else {
        CHECK_THAT(load_error(locked), StartsWith(locked + ": ") && Contains("Permission denied"));
    }
}

TEST_CASE("Truncated PNGs are refused at every cut", "[image_io][png][errors]") {
    TempDir dir;
    Bytes whole = sample_png(dir);
    std::vector<size_t> cuts = chunk_boundaries(whole);
    REQUIRE(cuts.size() >= 4);  // IHDR, IDAT, IEND and the end
    REQUIRE(cuts.back() == whole.size());
    cuts.pop_back();
    for (size_t n = 0; n < whole.size(); n += 7) cuts.push_back(n);
    cuts.push_back(whole.size() - 1);

    std::string path = dir.file("cut.png");
    for (size_t n : cuts) {
        INFO("cut at " << n << " of " << whole.size());
        write_bytes(path, Bytes(whole.begin(), whole.begin() + long(n)));
        CHECK_THAT(load_error(path), StartsWith(path + ": "));
    }
    write_bytes(path, Bytes(whole.begin(), whole.end() - 4));
    CHECK_THAT(load_error(path), Contains("unexpected end of file"));
}

TEST_CASE("Single-byte changes anywhere in a PNG are refused and do not crash", "[image_io][png][errors]") {
    TempDir dir;
    Bytes whole = sample_png(dir);
    std::string path = dir.file("flip.png");
    for (size_t i = 0; i < whole.size(); i++) {
        for (unsigned char mask : {0x01, 0x80}) {
            INFO("byte " << i << " xor " << int(mask));
            Bytes damaged = whole;
            damaged[i] ^= mask;
            write_bytes(path, damaged);
            CHECK_THAT(load_error(path), StartsWith(path + ": "));
        }
    }
}

TEST_CASE("A bad CRC in an ancillary chunk is an error too", "[image_io][png][errors]") {
    TempDir dir;
    Bytes whole = sample_png(dir);
    Bytes text = {'C', 'o', 'm', 'm', 'e', 'n', 't', 0, 'h', 'i'}, chunk;
    append_chunk(chunk, "tEXt", text);
    whole.insert(whole.begin() + 33, chunk.begin(), chunk.end());  // right after IHDR
    std::string path = dir.file("text.png");
    write_bytes(path, whole);
    CHECK(load_image(path).width() == 13);

    whole[33 + 8 + 9] ^= 1;  // "hi" -> "hh"
    write_bytes(path, whole);
    CHECK_THAT(load_error(path), StartsWith(path + ": ") && Contains("tEXt: CRC error"));
}

TEST_CASE("Huge declared sizes are refused before allocating", "[image_io][errors]") {
    TempDir dir;
    std::string png = dir.file("huge.png"), npy = dir.file("huge.npy");
    write_bytes(png, png_with_header_only(100000, 100000));
    CHECK_THAT(load_error(png), StartsWith(png + ": ") && Contains("user limit") && Contains("65536x65536"));

    // Within raised width/height limits, the byte limit still applies.
    ReadLimits wide;
    wide.max_width = wide.max_height = 1u << 20;
    CHECK_THAT(load_error(png, wide), StartsWith(png + ": ") && Contains("exceeds the limit of 2147483648 bytes"));

    write_bytes(npy, npy_file(1, dict("<f4", "False", "(100000, 100000)")));
    CHECK_THAT(load_error(npy), StartsWith(npy + ": ") && Contains("larger than the limit of 65536x65536"));
    CHECK_THAT(load_error(npy, wide), Contains("exceeds the limit of 2147483648 bytes"));

    // Products that overflow 64 bits must not wrap around to something small.
    ReadLimits unlimited{~0ull, ~0ull, ~0ull};
    write_bytes(npy, npy_file(1, dict("<f4", "False", "(4294967296, 4294967296, 4)")));
    CHECK_THAT(load_error(npy, unlimited), Contains("exceeds the limit"));
    write_bytes(npy, npy_file(1, dict("<f4", "False", "(65536, 65536)")));
    CHECK_THAT(load_error(npy, unlimited), Contains("too large for a Halide buffer"));
    write_bytes(npy, npy_file(1, dict("<f4", "False", "(99999999999999999999, 1)")));
    CHECK_THAT(load_error(npy, unlimited), Contains("shape entry too large"));

    // A small limit applies to small files too.
    ReadLimits tight;
    tight.max_bytes = 15;
    write_bytes(npy, npy_f4(dict("<f4", "False", "(2, 2)"), 4));
    CHECK_THAT(load_error(npy, tight), Contains("2x2x1 floats exceeds the limit of 15 bytes"));
    tight.max_bytes = 16;
    CHECK(load_image(npy, tight).width() == 2);
}

TEST_CASE("Bad npy files are refused with a reason", "[image_io][npy][errors]") {
    TempDir dir;
    std::string path = dir.file("bad.npy");
    auto refused = [&](const Bytes &file) {
        write_bytes(path, file);
        std::string message = load_error(path);
        CHECK_THAT(message, StartsWith(path + ": "));
        return message;
    };
    CHECK_THAT(refused(npy_f4(dict(">f4", "False", "(2, 2)"), 4)), Contains("big-endian") && Contains("'>f4'"));
    CHECK_THAT(refused(npy_f4(dict("<i4", "False", "(2, 2)"), 4)), Contains("dtype '<i4'"));
    CHECK_THAT(refused(npy_f4(dict("<f2", "False", "(2, 2)"), 4)), Contains("dtype '<f2'"));
    CHECK_THAT(refused(npy_f4(dict("<f4", "True", "(2, 2)"), 4)), Contains("Fortran order"));
    CHECK_THAT(refused(npy_f4(dict("<f4", "False", "(5,)"), 5)), Contains("(5,) is not 2-D or 3-D"));
    CHECK_THAT(refused(npy_f4(dict("<f4", "False", "()"), 1)), Contains("() is not 2-D or 3-D"));
    CHECK_THAT(refused(npy_f4(dict("<f4", "False", "(1, 2, 3, 4)"), 24)), Contains("(1, 2, 3, 4) is not 2-D or 3-D"));
    CHECK_THAT(refused(npy_f4(dict("<f4", "False", "(1, 2, 5)"), 10)), Contains("more than 4 channels"));
    CHECK_THAT(refused(npy_f4(dict("<f4", "False", "(0, 5)"), 0)), Contains("(0, 5) has a zero-size dimension"));
    CHECK_THAT(refused(npy_f4(dict("<f4", "False", "(2, 3)"), 5)),
               Contains("truncated: expected 24 bytes, found 20"));
    CHECK_THAT(refused(npy_f4("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 1)}", 1)),
               Contains("structured"));
    CHECK_THAT(refused(npy_f4("{'descr': '<f4', 'shape': (1, 1)}", 1)), Contains("no 'fortran_order'"));
    CHECK_THAT(refused(npy_f4("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'x': 1}", 1)),
               Contains("unknown key 'x'"));
    CHECK_THAT(refused(npy_f4("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1, 1)}", 1)),
               Contains("malformed .npy header"));
    CHECK_THAT(refused(npy_f4("{'descr': '<f4', 'fortran_order': False, 'shape': (1, -1)}", 1)),
               Contains("non-negative integers"));
    CHECK_THAT(refused(npy_f4("{'descr: '<f4'}", 1)), Contains("malformed .npy header"));
    CHECK_THAT(refused(npy_f4("", 1)), Contains("malformed .npy header"));

    Bytes future = npy_f4(dict("<f4", "False", "(1, 1)"), 1);
    future[6] = 4;
    CHECK_THAT(refused(future), Contains("unsupported .npy version 4.0"));

    // The header length gains 0x4000; the file has about 70 bytes.
    std::string header = dict("<f4", "False", "(1, 1)");
    Bytes past_end = npy_f4(header, 1);
    past_end[9] = 0x40;
    CHECK_THAT(refused(past_end), Contains("header length " + std::to_string(0x4000 + header.size()) +
                                          " runs past the end of the file (" + std::to_string(past_end.size())));
    Bytes v2_past_end = npy_file(2, dict("<f4", "False", "(1, 1)"));
    v2_past_end[11] = 0x7f;
    CHECK_THAT(refused(v2_past_end), Contains("runs past the end of the file"));
}

// ---- saving ----

TEST_CASE("Saving is atomic and refuses what it cannot write", "[image_io][save]") {
    TempDir dir;
    Image img(2, 2, 3);
    img.fill(0.25f);

    std::string nowhere = dir.file("no/such/dir/out.png");
    CHECK_THAT(error_of([&] { save_image(nowhere, img); }), StartsWith(nowhere + ": ") && Contains("No such file"));
    CHECK_THAT(error_of([&] { save_npy(nowhere, img); }), StartsWith(nowhere + ": "));
    CHECK(dir.entries().empty());

    // rename() cannot replace a directory: the temporary must not stay behind.
    std::filesystem::create_directory(dir.file("taken.png"));
    CHECK_THAT(error_of([&] { save_png(dir.file("taken.png"), img); }), StartsWith(dir.file("taken.png") + ": "));
    CHECK(dir.entries() == std::vector<std::string>{"taken.png"});
    std::filesystem::remove(dir.file("taken.png"));

    Image five(2, 2, 5);
    CHECK_THAT(error_of([&] { save_png(dir.file("five.png"), five); }), Contains("5 channels"));
    CHECK_THAT(error_of([&] { save_png(dir.file("deep.png"), img, 12); }), Contains("bit depth must be 8 or 16"));
    CHECK_THAT(error_of([&] { save_image(dir.file("a.tif"), img); }), StartsWith(dir.file("a.tif") + ": ") &&
                                                                          Contains("'.tif'"));
    CHECK_THAT(error_of([&] { save_image(dir.file("v1.0/noext"), img); }), Contains("no file extension"));
    CHECK(dir.entries().empty());

    // An existing file is replaced whole, with the usual permissions.
    std::string out = dir.file("out.PNG");
    write_bytes(out, {'o', 'l', 'd'});
    mode_t old_mask = umask(027);
    save_image(out, img);
    umask(old_mask);
    CHECK(load_png(out)(1, 1, 2) == 64.0f / 255.0f);
    struct stat st;
    REQUIRE(stat(out.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    CHECK(dir.entries() == std::vector<std::string>{"out.PNG"});
}

TEST_CASE("AtomicFile commits or leaves nothing", "[image_io][save]") {
    TempDir dir;
    std::string path = dir.file("data.json");
    {
        AtomicFile f(path);
        std::fputs("{}", f.file());
        CHECK(dir.entries().size() == 1);  // only the temporary
        CHECK(dir.entries()[0].rfind("data.json.tmp-", 0) == 0);
    }
    CHECK(dir.entries().empty());
    {
        AtomicFile f;
        FILE *out = f.open(path);
        std::fputs("{\"a\": 1}", out);
        f.commit();
        CHECK(f.file() == nullptr);
    }
    Bytes content = read_bytes(path);
    CHECK(std::string(content.begin(), content.end()) == "{\"a\": 1}");
    CHECK(dir.entries() == std::vector<std::string>{"data.json"});

    AtomicFile unopened;
    CHECK_THAT(error_of([&] { unopened.commit(); }), Contains("without an open file"));
}

TEST_CASE("check_finite names the first bad value in row-major order", "[image_io]") {
    Image img(4, 3, 2);
    img.fill(1.0f);
    CHECK(error_of([&] { check_finite(img, "img"); }).empty());

    img(2, 1, 0) = std::numeric_limits<float>::quiet_NaN();
    CHECK(error_of([&] { check_finite(img, "img"); }) == "img: NaN at row 1, column 2, channel 0");

    img(3, 0, 1) = -std::numeric_limits<float>::infinity();
    CHECK(error_of([&] { check_finite(img, "output"); }) == "output: -Inf at row 0, column 3, channel 1");

    img(3, 0, 1) = 1.0f;
    img(0, 1, 1) = std::numeric_limits<float>::infinity();
    CHECK(error_of([&] { check_finite(img, "x"); }) == "x: Inf at row 1, column 0, channel 1");

    img(0, 1, 0) = std::numeric_limits<float>::quiet_NaN();
    CHECK(error_of([&] { check_finite(img, "x"); }) == "x: NaN at row 1, column 0, channel 0");
}

// ---- pictures ----

namespace {

struct Pixel {
    int r, g, b;
    bool operator==(const Pixel &o) const { return r == o.r && g == o.g && b == o.b; }
};

Pixel pixel(const Image &img, int x, int y) {
    return {int(std::lround(img(x, y, 0) * 255)), int(std::lround(img(x, y, 1) * 255)),
            int(std::lround(img(x, y, 2) * 255))};
}

std::ostream &operator<<(std::ostream &os, const Pixel &p) {
    return os << "(" << p.r << ", " << p.g << ", " << p.b << ")";
}

int count(const Image &img, Pixel colour, int x0, int x1) {
    int n = 0;
    for (int y = 0; y < img.height(); y++) {
        for (int x = x0; x < x1; x++) n += pixel(img, x, y) == colour;
    }
    return n;
}

}  // namespace

TEST_CASE("Colour-mapped PNG shows the map and a labelled colour bar", "[colormap]") {
    TempDir dir;
    const Pixel dark{68, 1, 84}, middle{33, 145, 140}, bright{253, 231, 37}, white{255, 255, 255}, black{0, 0, 0};
    Map map(16, 8);
    map.for_each_element([&](int x, int y) { map(x, y) = x < 8 ? 3.0f : 9.0f; });
    map(0, 7) = 6.0f;
    map(1, 7) = 100.0f;  // clamped to hi
    map(2, 7) = std::numeric_limits<float>::quiet_NaN();
    std::string path = dir.file("sigma.png");
    save_colormap_png(path, map, 3.0f, 9.0f, "sigma");

    Image img = load_png(path);
    REQUIRE(img.channels() == 3);
    CHECK(pixel(img, 0, 0) == white);

    // The map's first cell is the first dark pixel in reading order; cells are
    // 256 / 16 = 16 pixels wide.
    int mx = -1, my = -1;
    for (int y = 0; y < img.height() && mx < 0; y++) {
        for (int x = 0; x < img.width() && mx < 0; x++) {
            if (pixel(img, x, y) == dark) mx = x, my = y;
        }
    }
    REQUIRE(mx >= 0);
    CHECK(pixel(img, mx + 127, my) == dark);
    CHECK(pixel(img, mx + 128, my) == bright);
    CHECK(pixel(img, mx + 255, my + 127) == bright);
    CHECK(pixel(img, mx + 256, my) == white);
    CHECK(pixel(img, mx, my + 128) == white);
    CHECK(pixel(img, mx + 8, my + 120) == middle);
    CHECK(pixel(img, mx + 24, my + 120) == bright);
    CHECK(pixel(img, mx + 40, my + 120) == (Pixel{128, 128, 128}));

    // Right of the map: a bar running from bright (top) to dark (bottom), and
    // tick labels plus the title in black.
    int right = mx + 257;
    CHECK(count(img, bright, right, img.width()) > 0);
    CHECK(count(img, dark, right, img.width()) > 0);
    CHECK(count(img, black, right, img.width()) > 3 * 20 * 4);
    CHECK(count(img, black, 0, img.width()) > count(img, black, right, img.width()));
    CHECK(img.width() > right + 5 * 6 * 2);  // room for "x.xx" labels

    CHECK_THAT(error_of([&] { save_colormap_png(path, map, 9.0f, 3.0f, "s"); }), StartsWith(path + ": "));
    CHECK_THAT(error_of([&] { save_colormap_png(path, map, NAN, 3.0f, "s"); }), Contains("bad value range"));
}

TEST_CASE("Panel places normalised tiles side by side under titles", "[colormap]") {
    TempDir dir;
    Image grey(4, 4, 1), colour(2, 2, 3);
    grey.for_each_element([&](int x, int y, int) { grey(x, y, 0) = (x + 4 * y) / 15.0f * 2.0f; });
    colour.for_each_element([&](int x, int y, int k) { colour(x, y, k) = k == 0 ? 2.0f : k == 1 ? 1.0f : -5.0f; });
    std::string path = dir.file("panel.png");
    save_panel_png(path, {{"input", grey}, {"blurred", colour}}, 0.0f, 2.0f);

    Image img = load_png(path);
    REQUIRE(img.channels() == 3);
    CHECK(pixel(img, 0, 0) == (Pixel{255, 255, 255}));
    // Both tiles are scaled by 64 (the larger is 4 px): 256 + 128 px of image
    // plus margins, and the 256 px tall grey tile sets the height.
    CHECK(img.width() > 256 + 128);
    CHECK(img.width() < 256 + 128 + 100);
    CHECK(img.height() > 256);
    CHECK(count(img, Pixel{255, 128, 0}, 0, img.width()) == 128 * 128);
    CHECK(count(img, Pixel{255, 255, 255}, 0, img.width()) > 0);
    int v = int(std::lround(5 / 15.0f * 255));  // grey cell (1, 1)
    CHECK(count(img, Pixel{v, v, v}, 0, img.width()) == 64 * 64);
    CHECK(count(img, Pixel{0, 0, 0}, 0, img.width()) > 64 * 64);  // cell (0, 0) plus the titles

    CHECK_THAT(error_of([&] { save_panel_png(path, {{"two", Image(2, 2, 2)}}, 0, 1); }),
               StartsWith(path + ": ") && Contains("tile 'two' has 2 channels"));
    CHECK_THAT(error_of([&] { save_panel_png(path, {}, 0, 1); }), Contains("no images"));
}
