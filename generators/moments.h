// The moments that the fused fits iterate on instead of the images, as pure Halide definitions.
// With the blurs fixed, a pixel's squared error is a quadratic in its mixing weight: with
// D = A - B and R = B - T (the K-scale stack: D = B_{k+1} - B_k and R = B_k - T per segment k),
//   sum over c of (m D + R)^2 = a m^2 + 2 b m + c,  a = sum D^2, b = sum D R, c = sum R^2.
// A fit then needs only (a, b, c) per pixel (per segment), or their totals for one global
// weight: the same formulas hold with the totals. Nothing here schedules.
#pragma once

#include "Halide.h"

namespace blurmix::gen {

using namespace Halide;

// The summand of moment j (0, 1, 2 for a, b, c) of one channel's D and R.
inline Expr moment_term(Expr j, Expr d, Expr r) { return select(j == 0, d * d, j == 1, d * r, r * r); }

// The min/max mix's moments (x, y, j).
inline Func moments(Func a, Func b, Func target, Expr channels) {
    Var x("x"), y("y"), j("j");
    RDom rc(0, channels, "rc");
    Expr d = a(x, y, rc) - b(x, y, rc), r = b(x, y, rc) - target(x, y, rc);
    Func m("moments");
    m(x, y, j) = 0.f;
    m(x, y, j) += moment_term(j, d, r);
    return m;
}

// The loss term and d loss / d logit of one pixel (or of the image, from totals) at weight
// m = sigmoid(logit), inv_n = 1 / N.
inline Expr moment_loss(Expr a, Expr b, Expr c, Expr m) { return (a * m + 2.f * b) * m + c; }

inline Expr moment_grad(Expr a, Expr b, Expr m, Expr inv_n) {
    return (2.f * inv_n) * (a * m + b) * (m * (1.f - m));
}

// The K-scale stack's moments (x, y, j, k) of every segment k, in the weight f of B_{k+1}. (For
// one channel the stack itself, K values and the target, would be fewer numbers than 3 (K - 1),
// but a step would then compute (B_i + f D - T) D from two selected scales instead of a f + b
// from two selected moments: the steps, not the one pass that writes the moments, are what a fit
// spends its time on.)
inline Func scale_moments(Func stack, Func target, Expr channels) {
    Var x("x"), y("y"), j("j"), k("k");
    RDom rc(0, channels, "scale_moments_rc");
    Expr lo = stack(x, y, rc, k), d = stack(x, y, rc, k + 1) - lo, r = lo - target(x, y, rc);
    Func m("scale_moments");
    m(x, y, j, k) = 0.f;
    m(x, y, j, k) += moment_term(j, d, r);
    return m;
}

// Moment j of segment i of pixel (x, y), from moments (x, y, j, k). Where loads are per pixel
// (a GPU thread, a scalar loop) a load at i. A CPU vector's pixels may be on different segments,
// and a gather on x86 is a scalar load per lane: for up to kSelectScales scales, `chain` selects
// among the segments instead (each k clamped so that the loads stay inside the buffer); past
// that, the load at i.
constexpr int kSelectScales = 8;

inline Expr segment_moment(Func moments, Expr x, Expr y, int j, Expr i, Expr scales, bool chain) {
    if (!chain) return moments(x, y, j, i);
    Expr v = moments(x, y, j, 0);
    for (int k = 1; k < kSelectScales - 1; k++) v = select(i >= k, moments(x, y, j, min(k, scales - 2)), v);
    return select(scales <= kSelectScales, v, moments(x, y, j, i));
}

}  // namespace blurmix::gen
