// Direct double-precision references for every stage: the definitions written out as loops,
// with no Halide and no shortcuts, to test the generated pipelines against.
#pragma once

#include <cmath>
#include <vector>

#include "blurmix.h"

namespace ref {

// A (x, y, c) array of doubles.
struct Array {
    int w = 0, h = 0, c = 0;
    std::vector<double> v;
    Array(int w_, int h_, int c_) : w(w_), h(h_), c(c_), v((size_t)w_ * h_ * c_, 0.0) {}
    double &operator()(int x, int y, int k) { return v[((size_t)k * h + y) * w + x]; }
    double operator()(int x, int y, int k) const { return v[((size_t)k * h + y) * w + x]; }
};

inline Array from(const blurmix::Image &im) {
    Array a(im.width(), im.height(), im.channels());
    for (int k = 0; k < a.c; k++)
        for (int y = 0; y < a.h; y++)
            for (int x = 0; x < a.w; x++) a(x, y, k) = im(x, y, k);
    return a;
}

inline std::vector<double> taps(double sigma, double std_devs) {
    int r = std::max(1, (int)std::ceil(std_devs * sigma));
    std::vector<double> w(2 * r + 1);
    double sum = 0;
    for (int t = -r; t <= r; t++) sum += w[t + r] = std::exp(-t * t / (2 * sigma * sigma));
    for (double &x : w) x /= sum;
    return w;
}

// Index of coordinate i in [0, n) under the boundary rule, or -1 for a zero.
inline int index(int i, int n, blurmix::Boundary b) {
    if (i >= 0 && i < n) return i;
    switch (b) {
    case blurmix::Boundary::zero: return -1;
    case blurmix::Boundary::clamp: return i < 0 ? 0 : n - 1;
    case blurmix::Boundary::mirror: {
        int m = ((i % (2 * n)) + 2 * n) % (2 * n);
        return m < n ? m : 2 * n - 1 - m;
    }
    }
    return -1;
}

// Separable blur: vertical, then horizontal, each extended by the boundary rule.
inline Array blur_taps(const Array &in, const std::vector<double> &wy, const std::vector<double> &wx,
                       blurmix::Boundary b) {
    int ry = (int)wy.size() / 2, rx = (int)wx.size() / 2;
    Array v(in.w, in.h, in.c), out(in.w, in.h, in.c);
    for (int k = 0; k < in.c; k++)
        for (int y = 0; y < in.h; y++)
            for (int x = 0; x < in.w; x++) {
                double s = 0;
                for (int t = -ry; t <= ry; t++) {
                    int yy = index(y + t, in.h, b);
                    if (yy >= 0) s += wy[t + ry] * in(x, yy, k);
                }
                v(x, y, k) = s;
            }
    for (int k = 0; k < in.c; k++)
        for (int y = 0; y < in.h; y++)
            for (int x = 0; x < in.w; x++) {
                double s = 0;
                for (int t = -rx; t <= rx; t++) {
                    int xx = index(x + t, in.w, b);
                    if (xx >= 0) s += wx[t + rx] * v(xx, y, k);
                }
                out(x, y, k) = s;
            }
    return out;
}

inline Array blur(const Array &in, double sigma, double std_devs = 2,
                  blurmix::Boundary b = blurmix::Boundary::zero) {
    auto w = taps(sigma, std_devs);
    return blur_taps(in, w, w, b);
}

inline double sigmoid(double l) { return 1 / (1 + std::exp(-l)); }

// logits: w x h values, or one.
inline double logit_at(const std::vector<double> &logits, int w, int x, int y) {
    return logits.size() == 1 ? logits[0] : logits[(size_t)y * w + x];
}

inline Array mix(const Array &a, const Array &b, const std::vector<double> &logits) {
    Array out(a.w, a.h, a.c);
    for (int k = 0; k < a.c; k++)
        for (int y = 0; y < a.h; y++)
            for (int x = 0; x < a.w; x++) {
                double m = sigmoid(logit_at(logits, a.w, x, y));
                out(x, y, k) = m * a(x, y, k) + (1 - m) * b(x, y, k);
            }
    return out;
}

inline double mse(const Array &a, const Array &b) {
    double s = 0;
    for (size_t i = 0; i < a.v.size(); i++) s += (a.v[i] - b.v[i]) * (a.v[i] - b.v[i]);
    return s / (double)a.v.size();
}

}  // namespace ref
