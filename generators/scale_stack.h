// The K-scale stack as pure Halide definitions: a pixel's place on the stack from its scale
// parameter z, the render with its loss and analytic gradient, and the same loss and gradient
// from the segments' moments (moments.h) for the fused fits. Nothing here schedules.
#pragma once

#include "Halide.h"
#include "mix_and_loss.h"
#include "moments.h"
#include "row_sums.h"

namespace blurmix::gen {

using namespace Halide;

// The K-scale stack: blurs B_0..B_{K-1} (sigmas s_0 < ... < s_{K-1}) and one parameter z per
// pixel. The scale position is u = (K - 1) q with q = sigmoid(-z) in (0, 1); with i = floor(u)
// (at most K - 2) and f = u - i the render is
//   x_hat = (1 - f) B_i + f B_{i+1},
// piecewise linear ("hat") weights over one continuous coordinate. Why this parameterisation:
// - a pixel crosses from one pair of scales to the next without leaving the parameter: the
//   derivative d x_hat / du = B_{i+1} - B_i is non-zero on both sides of every interior scale,
//   so gradient descent walks through scale boundaries. A segment index plus a per-segment
//   sigmoid weight would saturate at each segment's ends and stall there (the gradient of a
//   saturated sigmoid vanishes), which is what the min/max method does at s_min and s_max;
//   here that can happen only at s_0 and s_{K-1}, the ends of the range;
// - at a scale itself (u an integer, as the start z = 0 is for odd K) the derivative is the
//   segment above's, never 0 or an average of two slopes that may cancel;
// - the sigmoid keeps u inside [0, K - 1] without clamping (a clamp has a zero gradient
//   outside, where a parameter would be stuck), and for K = 2 it is the seed's method exactly:
//   u = 1 - m with m = sigmoid(z), x_hat = m B_0 + (1 - m) B_1, and the same gradient in z.
// What no parameterisation removes: a pixel's value need not be monotone along the stack, and
// where it is not, its own loss has local minima in u (tests/test_scales.cpp shows that the
// pixels whose value is monotone all cross five boundaries to their target). The smoothness
// penalty (smoothness.h), held for the first iterations, is what gets most of the others out.
// (Adamax on u itself, projected into [0, K - 1], was tried: no better on experiment D, worse
// on 512x512 noise.)
// The recovered sigma is (1 - f) s_i + f s_{i+1} (for K = 2 the seed's m s_min + (1 - m) s_max).
// A pixel's place on the stack from q: segment i = floor(u) (at most K - 2) and f = u - i.
struct ScalePosition {
    Expr q, i, f;
};

inline ScalePosition scale_position(Expr q, Expr scales) {
    Expr u = cast<float>(scales - 1) * q;
    Expr i = clamp(cast<int>(floor(u)), 0, scales - 2);
    return {q, i, u - cast<float>(i)};
}

// d loss / d z from d loss / d u at q: du/dz = -(K - 1) q (1 - q).
inline Expr d_z_from_d_u(Expr d_u, Expr q, Expr scales) {
    return -d_u * cast<float>(scales - 1) * q * (1.f - q);
}

struct ScaleMix {
    Func q;          // (x, y): sigmoid(-z), the scale position over K - 1
    Func segment;    // (x, y): i
    Func frac;       // (x, y): f
    Func output;     // (x, y, c)
    Func residual;   // x_hat - target
    Func pixel;      // (x, y): {sum over c of residual^2, d loss / d u}
    Func row_loss;   // per row y, sum over x and c of residual^2
    Func loss;       // () mean squared error (float)
    Func d_u;        // (x, y): d loss / d u
    Func d_z;        // (x, y): d loss / d z (data term only)
};

inline ScaleMix scale_mix(Func stack, Expr scales, Func z, Func target, Expr width, Expr height,
                          Expr channels) {
    Var x("x"), y("y"), c("c");
    ScaleMix m;
    m.q = Func("scale_q");
    m.q(x, y) = 1.f / (1.f + exp(z(x, y)));
    ScalePosition pos = scale_position(m.q(x, y), scales);
    m.segment = Func("scale_segment");
    m.segment(x, y) = pos.i;
    m.frac = Func("scale_frac");
    m.frac(x, y) = pos.f;
    Expr i = m.segment(x, y), f = m.frac(x, y);
    Expr lo = stack(x, y, c, i), hi = stack(x, y, c, i + 1);
    m.output = Func("scale_mixed");
    m.output(x, y, c) = (1.f - f) * lo + f * hi;
    m.residual = Func("scale_residual");
    m.residual(x, y, c) = m.output(x, y, c) - target(x, y, c);

    // Per pixel, over the channels at once: the squared residual and d loss / d u, so that the
    // two scales are gathered once for both.
    Expr n = value_count(width, height, channels);
    RDom rc(0, channels, "scale_rc");
    m.pixel = Func("scale_pixel");
    m.pixel(x, y) = {0.f, 0.f};
    Expr r = m.residual(x, y, rc);
    m.pixel(x, y) = {m.pixel(x, y)[0] + r * r,
                     m.pixel(x, y)[1] + (2.f / n) * r *
                                            (stack(x, y, rc, m.segment(x, y) + 1) - stack(x, y, rc, m.segment(x, y)))};
    RDom rx(0, width, "scale_rx");
    m.row_loss = Func("scale_row_loss");
    m.row_loss(y) = 0.f;
    m.row_loss(y) += m.pixel(rx, y)[0];
    m.loss = Func("scale_loss");
    m.loss() = cast<float>(column_total(m.row_loss, height, "scale_loss_total")() / cast<double>(n));
    m.d_u = Func("scale_d_u");
    m.d_u(x, y) = m.pixel(x, y)[1];
    m.d_z = Func("scale_d_z");
    m.d_z(x, y) = d_z_from_d_u(m.d_u(x, y), m.q(x, y), scales);
    return m;
}

// d loss / d z of one pixel from its segment's moments a, b: d loss / d u = (2 / N) (a f + b).
// inv_n = 1 / N.
inline Expr scale_moment_d_z(Expr a, Expr b, const ScalePosition &p, Expr scales, Expr inv_n) {
    return d_z_from_d_u((2.f * inv_n) * (a * p.f + b), p.q, scales);
}

// d loss / d z of the data term at a pixel's state, from the moments of its segment.
inline Expr scale_data_d_z(Expr q, Func moments, Expr x, Expr y, Expr scales, Expr inv_n, bool chain) {
    ScalePosition p = scale_position(q, scales);
    Expr a = segment_moment(moments, x, y, 0, p.i, scales, chain);
    Expr b = segment_moment(moments, x, y, 1, p.i, scales, chain);
    return scale_moment_d_z(a, b, p, scales, inv_n);
}

// The summed squared error of a pixel at q (divide by N for the mean).
inline Expr scale_moment_loss(Func moments, Expr x, Expr y, Expr q, Expr scales, bool chain) {
    ScalePosition p = scale_position(q, scales);
    return moment_loss(segment_moment(moments, x, y, 0, p.i, scales, chain),
                       segment_moment(moments, x, y, 1, p.i, scales, chain),
                       segment_moment(moments, x, y, 2, p.i, scales, chain), p.f);
}

}  // namespace blurmix::gen
