#include "image_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace blurmix::io {

[[noreturn]] void fail(const std::string &path, const std::string &reason) {
    throw Error(path + ": " + reason);
}

std::string errno_text(int e) {
    return e ? std::strerror(e) : "unknown error";
}

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

Input::Input(const std::string &p) : path(p) {
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

void Input::read(void *dst, size_t n, const char *what) {
    if (std::fread(dst, 1, n, file.get()) != n) {
        fail(path, std::ferror(file.get()) ? std::string("read error: ") + errno_text(errno)
                                           : std::string("file is truncated (") + what + ")");
    }
}

namespace {

// Halide's Buffer does not check malloc's result; throw instead, and load()
// turns that into an Error.
void *checked_malloc(size_t n) {
    void *p = std::malloc(n);
    if (!p) throw std::bad_alloc();
    return p;
}

}  // namespace

Image new_image(int w, int h, int c) {
    Image img(static_cast<float *>(nullptr), w, h, c);
    img.allocate(checked_malloc, std::free);
    return img;
}

void check_saveable(const std::string &path, int width, int height, int channels) {
    if (channels < 1 || channels > 4) {
        fail(path, "cannot save an image with " + std::to_string(channels) + " channels (need 1..4)");
    }
    if (width < 1 || height < 1) fail(path, "cannot save an empty image");
}

void check_saveable(const std::string &path, const Image &img) {
    check_saveable(path, img.dim(0).extent(), img.dim(1).extent(), img.dim(2).extent());
}

}  // namespace blurmix::io
