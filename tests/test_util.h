// Helpers shared by the tests.
#pragma once

#include <random>
#include <string>

#include "blurmix.h"
#include "reference.h"

#ifndef BLURMIX_TEST_DATA
#error "BLURMIX_TEST_DATA must name tests/data"
#endif

namespace test {

inline std::string data(const std::string &name) { return std::string(BLURMIX_TEST_DATA) + "/" + name; }

inline blurmix::Image random_image(int w, int h, int c, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    blurmix::Image im(w, h, c);
    im.for_each_value([&](float &v) { v = u(rng); });
    return im;
}

inline double max_abs_diff(const blurmix::Image &a, const ref::Array &b) {
    REQUIRE(a.width() == b.w);
    REQUIRE(a.height() == b.h);
    REQUIRE(a.channels() == b.c);
    double worst = 0;
    for (int k = 0; k < b.c; k++)
        for (int y = 0; y < b.h; y++)
            for (int x = 0; x < b.w; x++) worst = std::max(worst, std::abs(a(x, y, k) - b(x, y, k)));
    return worst;
}

inline double max_abs_diff(const blurmix::Image &a, const blurmix::Image &b) {
    return max_abs_diff(a, ref::from(b));
}

// CPU variants always run; a GPU variant runs only where its device answers.
inline bool runs_here(const blurmix::Variant &v) {
    return v.device == "cpu" || blurmix::device_available(v.device);
}

}  // namespace test
