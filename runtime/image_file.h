// What the image readers and writers share: an open input file, the size checks made before
// anything is allocated, and the failure that names the file. Internal to the core library.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "image_io.h"

namespace blurmix::io {

[[noreturn]] void fail(const std::string &path, const std::string &reason);
std::string errno_text(int e);

// An open regular file and its size; refuses directories, FIFOs and empty files.
struct Input {
    std::string path;
    std::unique_ptr<FILE, int (*)(FILE *)> file{nullptr, std::fclose};
    uint64_t size = 0;

    explicit Input(const std::string &p);
    // Reads n bytes or fails: "file is truncated (what)", or the read error.
    void read(void *dst, size_t n, const char *what);
};

// Checks a decoded size against the limits and against what a Halide buffer
// can index (int32 strides), before anything of that size is allocated.
void check_size(const std::string &path, uint64_t w, uint64_t h, uint64_t c, const ReadLimits &limits);
// An image whose allocation failure throws std::bad_alloc (Halide's Buffer does not check).
Image new_image(int w, int h, int c);
// 1..4 channels and not empty, or fail.
void check_saveable(const std::string &path, const Image &img);
void check_saveable(const std::string &path, int width, int height, int channels);

// The codecs (png_codec.cpp, npy_codec.cpp): in is positioned at the file's start.
Image read_png(Input &in, const ReadLimits &limits);
Image read_npy(Input &in, const ReadLimits &limits);
bool has_png_signature(const unsigned char *bytes, size_t n);

}  // namespace blurmix::io
