#include "checks.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace blurmix {

void check_sigma(float sigma, const char *what) {
    // Past 1000 the kernel is wider than any image this tool is meant for.
    if (!(sigma > 0.f) || !(sigma <= 1000.f)) {
        throw Error(std::string(what) + " must be a number in (0, 1000], not " + std::to_string(sigma));
    }
}

void check_std_devs(float std_devs) {
    if (!(std_devs > 0.f) || !(std_devs <= 10.f)) {
        throw Error("std-devs must be a number in (0, 10], not " + std::to_string(std_devs));
    }
}

void check_same_size(const Image &a, const Image &b, const std::string &what) {
    if (a.width() != b.width() || a.height() != b.height() || a.channels() != b.channels()) {
        auto size = [](const Image &i) {
            return std::to_string(i.width()) + "x" + std::to_string(i.height()) + "x" +
                   std::to_string(i.channels());
        };
        throw Error(what + ": sizes differ (" + size(a) + " and " + size(b) + ")");
    }
}

std::string size_text(int width, int height) { return std::to_string(width) + "x" + std::to_string(height); }

void check_sigma_map(const Map &sigma, int width, int height, const std::string &what) {
    if (sigma.width() != width || sigma.height() != height) {
        throw Error(what + " is " + size_text(sigma.width(), sigma.height()) + " but the image is " +
                    size_text(width, height));
    }
    sigma.for_each_element([&](int x, int y) {
        const float s = sigma(x, y);
        if (!(s > 0.f) || !(s <= 1000.f)) {
            throw Error(what + ": sigma must be a number in (0, 1000], found " + std::to_string(s) +
                        " at row " + std::to_string(y) + ", column " + std::to_string(x));
        }
    });
}

void check_finite(const Image &img, const std::string &what) {
    // A branch-free pass first; the position is searched for only when something was found.
    // NaN and Inf are the floats whose exponent bits are all set. A dense image is scanned as one
    // run of words, an integer test the compiler vectorizes (for_each_value's loop cost ~2 ns a
    // value, measured from Python on small images); other layouts plane by plane.
    if (img.number_of_elements() == 0) return;
    constexpr uint32_t exponent = 0x7f800000u;
    bool all_finite = true;
    if (img.size_in_bytes() == img.number_of_elements() * sizeof(float)) {
        const uint32_t *bits = reinterpret_cast<const uint32_t *>(img.begin());
        uint32_t bad = 0;
        for (size_t i = 0, n = img.number_of_elements(); i < n; i++) bad |= (uint32_t)((bits[i] & exponent) == exponent);
        all_finite = !bad;
    } else {
        img.for_each_value([&](float v) {
            uint32_t bits;
            std::memcpy(&bits, &v, 4);
            all_finite &= (bits & exponent) != exponent;
        });
    }
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
