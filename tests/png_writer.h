// Test PNGs written with libpng from raw rows: exactly what ends up in IDAT, before filtering,
// so that the loader's tests can reach every colour type, bit depth and chunk it must handle.
#pragma once

#include <catch2/catch.hpp>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <string>
#include <vector>

namespace test {

struct RawPng {
    int width, height, bit_depth, color_type;
    int interlace = PNG_INTERLACE_NONE;
    std::vector<std::vector<unsigned char>> rows = {};
    std::vector<png_color> palette = {};
    std::vector<unsigned char> palette_alpha = {};
    bool has_trans_colour = false;
    png_color_16 trans_colour{};
    double gamma = 0;             // a gAMA chunk when > 0
    std::string comment = {};     // a tEXt chunk when not empty
    int idat_bytes = 0;           // IDAT split into chunks of this size when > 0
};

inline void write_raw_png(const std::string &path, const RawPng &p) {
    std::vector<png_bytep> rows;
    for (const auto &r : p.rows) rows.push_back(const_cast<png_bytep>(r.data()));
    FILE *f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        std::fclose(f);
        FAIL("libpng refused to write the test image " << path);
    }
    png_init_io(png, f);
    if (p.idat_bytes > 0) png_set_compression_buffer_size(png, p.idat_bytes);
    png_set_IHDR(png, info, p.width, p.height, p.bit_depth, p.color_type, p.interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (!p.palette.empty()) png_set_PLTE(png, info, p.palette.data(), int(p.palette.size()));
    if (!p.palette_alpha.empty()) {
        png_set_tRNS(png, info, p.palette_alpha.data(), int(p.palette_alpha.size()), nullptr);
    }
    if (p.has_trans_colour) png_set_tRNS(png, info, nullptr, 0, &p.trans_colour);
    if (p.gamma > 0) png_set_gAMA(png, info, p.gamma);
    png_text text{};
    if (!p.comment.empty()) {
        text.compression = PNG_TEXT_COMPRESSION_NONE;
        text.key = const_cast<char *>("Comment");
        text.text = const_cast<char *>(p.comment.c_str());
        png_set_text(png, info, &text, 1);
    }
    png_write_info(png, info);
    png_write_image(png, rows.data());  // does the Adam7 passes itself when interlaced
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    REQUIRE(std::fclose(f) == 0);
}

}  // namespace test
