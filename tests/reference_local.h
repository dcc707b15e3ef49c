// Direct double-precision references for the spatially varying blur and the K-scale stack,
// written from their definitions as plain loops (the 2-D kernel sum, not the separable form).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference.h"

namespace ref {

// (x, y) doubles, row-major.
struct Grid {
    int w = 0, h = 0;
    std::vector<double> v;
    Grid(int w_, int h_) : w(w_), h(h_), v((size_t)w_ * h_, 0.0) {}
    double &operator()(int x, int y) { return v[(size_t)y * w + x]; }
    double operator()(int x, int y) const { return v[(size_t)y * w + x]; }
};

inline Grid grid(const blurmix::Map &m) {
    Grid g(m.width(), m.height());
    for (int y = 0; y < g.h; y++)
        for (int x = 0; x < g.w; x++) g(x, y) = m(x, y);
    return g;
}

// out(p) = sum_{|dx|,|dy| <= R} g(dx) g(dy) in(p + d) / sum_{|dx|,|dy| <= R} g(dx) g(dy),
// g(t) = exp(-t^2 / (2 s_p^2)), R = max(1, ceil(std_devs * max s)); outside pixels by the
// boundary rule (zero: they add nothing to the numerator, the denominator is the full kernel).
inline Array local_blur(const Array &in, const Grid &sigma, double std_devs = 2,
                        blurmix::Boundary b = blurmix::Boundary::zero) {
    double largest = 0;
    for (double s : sigma.v) largest = std::max(largest, s);
    const int R = std::max(1, (int)std::ceil(std_devs * largest));
    Array out(in.w, in.h, in.c);
    for (int y = 0; y < in.h; y++)
        for (int x = 0; x < in.w; x++) {
            const double s = sigma(x, y);
            double norm = 0;
            std::vector<double> num(in.c, 0.0);
            for (int dy = -R; dy <= R; dy++)
                for (int dx = -R; dx <= R; dx++) {
                    const double g = std::exp(-(dx * dx + dy * dy) / (2 * s * s));
                    norm += g;
                    const int xx = index(x + dx, in.w, b), yy = index(y + dy, in.h, b);
                    if (xx < 0 || yy < 0) continue;
                    for (int k = 0; k < in.c; k++) num[k] += g * in(xx, yy, k);
                }
            for (int k = 0; k < in.c; k++) out(x, y, k) = num[k] / norm;
        }
    return out;
}

// The K-scale render: u = (K - 1) / (1 + exp(z)), i = min(floor(u), K - 2), f = u - i,
// x_hat = (1 - f) B_i + f B_{i+1}.
struct Position {
    int i;
    double f;
};

inline Position position(double z, int K) {
    const double u = (K - 1) / (1 + std::exp(z));
    const int i = std::clamp((int)std::floor(u), 0, K - 2);
    return {i, u - i};
}

inline Array scale_mix(const std::vector<Array> &stack, const Grid &z) {
    const Array &b0 = stack[0];
    Array out(b0.w, b0.h, b0.c);
    for (int k = 0; k < b0.c; k++)
        for (int y = 0; y < b0.h; y++)
            for (int x = 0; x < b0.w; x++) {
                Position p = position(z(x, y), (int)stack.size());
                out(x, y, k) = (1 - p.f) * stack[p.i](x, y, k) + p.f * stack[p.i + 1](x, y, k);
            }
    return out;
}

// lambda / (W H) * sum over neighbour pairs of phi(q_a - q_b), q = 1 / (1 + exp(z));
// kind 1: sqrt(d^2 + eps^2) - eps, kind 2: d^2.
inline double penalty(const Grid &z, int kind, double lambda, double eps = 1e-3) {
    if (kind == 0) return 0;
    auto q = [&](int x, int y) { return 1 / (1 + std::exp(z(x, y))); };
    auto phi = [&](double d) { return kind == 2 ? d * d : std::sqrt(d * d + eps * eps) - eps; };
    double s = 0;
    for (int y = 0; y < z.h; y++)
        for (int x = 0; x < z.w; x++) {
            if (x + 1 < z.w) s += phi(q(x + 1, y) - q(x, y));
            if (y + 1 < z.h) s += phi(q(x, y + 1) - q(x, y));
        }
    return lambda * s / ((double)z.w * z.h);
}

}  // namespace ref
