// The spatially varying blur and the K-scale stack, as pure Halide definitions shared by their
// forward and gradient generators (kept apart from algorithm.h so that the min/max method's
// definitions stay as they are). Nothing here schedules.
#pragma once

#include "algorithm.h"

namespace blurmix {

// The exact spatially varying Gaussian blur (the seed's blur2d_local_sphere): each output pixel p
// its own sigma s_p, taps g_p(t) = exp(-t^2 / (2 s_p^2)) for |t| <= R with one half-width R for
// the whole image, from the largest sigma of the map (radius_sigma), and
//   out(p) = sum_{|dx|,|dy| <= R} g_p(dx) g_p(dy) in(p + d) / (sum_{|t| <= R} g_p(t))^2.
// The kernel is a product in dx and dy, but its sigma belongs to the output pixel, so a vertical
// pass could not be shared between the pixels of a row: the sum is taken directly in 2-D,
// (2R+1)^2 taps a pixel. Zero padding (or clamp / mirror) as extend() gives.
struct LocalBlur {
    Func input;          // the input extended by the boundary rule
    Func taps;           // (x, y, t): the normalized 1-D taps of pixel (x, y)
    Func tap_sum;        // (x, y): the normalizer of g
    Func column;         // (x, y, c, dx): sum_dy w(dy) in(x + dx, y + dy)
    Func output;         // (x, y, c)
    // The same sum with nothing stored per tap: sum over the (2R+1)^2 offsets of
    // exp(-(dx^2 + dy^2) / (2 s^2)) in(p + d), over tap_sum^2. Twice the multiply-adds of the
    // column form and one exp per offset, but a pixel needs only its own accumulator, which is
    // what a GPU thread can hold for any R (the column form needs 2R+1 values per pixel).
    Func direct_sum, direct;
    Expr radius;
};

inline LocalBlur local_blur(Func in, Func sigma, Expr width, Expr height, Expr radius_sigma,
                            Expr std_devs, Expr boundary) {
    Var x("x"), y("y"), c("c"), t("t"), dx("dx");
    LocalBlur b;
    b.radius = half_width(radius_sigma, std_devs);
    b.input = extend(in, width, height, boundary, "local_input");
    // The sigma map repeated past its edges: vectorized loops may compute a few pixels beyond
    // the image, whose results are dropped.
    Func sigma_ext = BoundaryConditions::repeat_edge(sigma, {{0, width}, {0, height}});
    Func g("local_g");
    Expr s = sigma_ext(x, y);
    g(x, y, t) = exp(-cast<float>(t * t) / (2 * s * s));
    RDom rt(-b.radius, 2 * b.radius + 1, "local_rt");
    b.tap_sum = Func("local_tap_sum");
    b.tap_sum(x, y) = 0.f;
    b.tap_sum(x, y) += g(x, y, rt);
    b.taps = Func("local_taps");
    b.taps(x, y, t) = g(x, y, t) / b.tap_sum(x, y);
    // The taps are symmetric: w(0) f(0) + sum_{t>0} w(t) (f(-t) + f(t)) halves the multiplies.
    RDom r1(1, b.radius, "local_r1");
    b.column = Func("local_column");
    b.column(x, y, c, dx) = b.taps(x, y, 0) * b.input(x + dx, y, c);
    b.column(x, y, c, dx) += b.taps(x, y, r1) * (b.input(x + dx, y - r1, c) + b.input(x + dx, y + r1, c));
    b.output = Func("local_blur");
    b.output(x, y, c) = b.taps(x, y, 0) * b.column(x, y, c, 0);
    RDom r2(1, b.radius, "local_r2");
    b.output(x, y, c) += b.taps(x, y, r2) * (b.column(x, y, c, -r2) + b.column(x, y, c, r2));

    RDom rd(-b.radius, 2 * b.radius + 1, -b.radius, 2 * b.radius + 1, "local_rd");
    b.direct_sum = Func("local_direct_sum");
    b.direct_sum(x, y, c) = 0.f;
    b.direct_sum(x, y, c) += exp(-cast<float>(rd.x * rd.x + rd.y * rd.y) / (2 * s * s)) *
                             b.input(x + rd.x, y + rd.y, c);
    b.direct = Func("local_blur_direct");
    b.direct(x, y, c) = b.direct_sum(x, y, c) / (b.tap_sum(x, y) * b.tap_sum(x, y));
    return b;
}

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
// penalty below, held for the first iterations, is what gets most of the others out.
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
    Expr n = cast<float>(width) * cast<float>(height) * cast<float>(channels);
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
    Expr q = m.q(x, y);
    // du/dz = -(K - 1) q (1 - q)
    m.d_z(x, y) = -m.d_u(x, y) * cast<float>(scales - 1) * q * (1.f - q);
    return m;
}

// Smoothness of a map q over 4-neighbour pairs, with a user weight lambda:
//   P = lambda / (W H) * sum over horizontal and vertical neighbour pairs of phi(q_a - q_b)
// phi = sqrt(d^2 + eps^2) - eps (total variation, rounded at 0 so that its gradient is defined and
// Adamax does not flip at d = 0) or d^2 (quadratic). P is on q = u / (K - 1), the scale position in
// [0, 1], so that one lambda means the same for every K (for K = 2, q = 1 - m: the same as a
// penalty on the seed's weights).
enum PenaltyKind { kNoPenalty = 0, kTotalVariation = 1, kQuadratic = 2 };
constexpr float kTvEps = 1e-3f;

struct Smoothness {
    Func dh, dv;         // (x, y): q(x+1, y) - q(x, y) and q(x, y+1) - q(x, y)
    Func pair_penalty;   // (x, y): phi of the pairs (x, y)-(x+1, y) and (x, y)-(x, y+1)
    Func row_penalty;    // per row
    Func penalty;        // ()
    Func dphi;           // (x, y): {phi'(dh), phi'(dv)}
    Func d_q;            // (x, y)
};

inline Expr penalty_phi(Expr d, Expr kind) {
    return select(kind == kQuadratic, d * d, sqrt(d * d + kTvEps * kTvEps) - kTvEps);
}

inline Expr penalty_dphi(Expr d, Expr kind) {
    return select(kind == kQuadratic, 2.f * d, d / sqrt(d * d + kTvEps * kTvEps));
}

inline Smoothness smoothness(Func q, Expr width, Expr height, Expr kind, Expr lambda) {
    Var x("x"), y("y");
    Smoothness s;
    Expr scale = select(kind == kNoPenalty, 0.f, lambda / (cast<float>(width) * cast<float>(height)));
    // q repeated past the edges makes every difference that leaves the image 0 (and phi(0) = 0),
    // so the edges need no cases.
    Func qe = BoundaryConditions::repeat_edge(q, {{0, width}, {0, height}});
    s.dh = Func("smooth_dh");
    s.dh(x, y) = qe(x + 1, y) - qe(x, y);
    s.dv = Func("smooth_dv");
    s.dv(x, y) = qe(x, y + 1) - qe(x, y);
    // Without a penalty the row sums are empty.
    RDom rx(0, select(kind == kNoPenalty, 0, width), "smooth_rx");
    s.row_penalty = Func("smooth_row_penalty");
    s.row_penalty(y) = 0.f;
    s.pair_penalty = Func("smooth_pair_penalty");
    s.pair_penalty(x, y) = penalty_phi(s.dh(x, y), kind) + penalty_phi(s.dv(x, y), kind);
    s.row_penalty(y) += s.pair_penalty(rx, y);
    s.penalty = Func("smooth_penalty");
    s.penalty() = cast<float>(column_total(s.row_penalty, height, "smooth_total")() * cast<double>(scale));
    // phi' of each pixel's two pairs, once: each enters the gradients of both its pixels.
    s.dphi = Func("smooth_dphi");
    s.dphi(x, y) = {penalty_dphi(s.dh(x, y), kind), penalty_dphi(s.dv(x, y), kind)};
    s.d_q = Func("smooth_d_q");
    s.d_q(x, y) = scale * (s.dphi(x - 1, y)[0] - s.dphi(x, y)[0] + s.dphi(x, y - 1)[1] - s.dphi(x, y)[1]);
    return s;
}

}  // namespace blurmix

namespace blurmix {

// With the stack fixed, a pixel's squared error on segment k is a quadratic in f: with
// D = B_{k+1} - B_k and R = B_k - T,
//   sum over c of (f D + R)^2 = a_k f^2 + 2 b_k f + c_k,  a_k = sum D^2, b_k = sum D R, c_k = sum R^2,
// stored (x, y, j, k) with j = 0, 1, 2 for a, b, c. The fused fit iterates on these instead of the
// stack. (For one channel the stack itself, K values and the target, would be fewer numbers than
// 3 (K - 1), but a step would then compute (B_i + f D - T) D from two selected scales instead of
// a f + b from two selected moments: the steps, not the one pass that writes the moments, are
// what a fit spends its time on.)
inline Func scale_moments(Func stack, Func target, Expr channels) {
    Var x("x"), y("y"), j("j"), k("k");
    RDom rc(0, channels, "scale_moments_rc");
    Expr lo = stack(x, y, rc, k), d = stack(x, y, rc, k + 1) - lo, r = lo - target(x, y, rc);
    Func m("scale_moments");
    m(x, y, j, k) = 0.f;
    m(x, y, j, k) += select(j == 0, d * d, j == 1, d * r, r * r);
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

// d loss / d z of one pixel from its segment's moments a, b: d loss / d u = (2 / N) (a f + b),
// times du/dz = -(K - 1) q (1 - q), as scale_mix's d_z. inv_n = 1 / N.
inline Expr scale_moment_d_z(Expr a, Expr b, const ScalePosition &p, Expr scales, Expr inv_n) {
    Expr d_u = (2.f * inv_n) * (a * p.f + b);
    return -d_u * cast<float>(scales - 1) * p.q * (1.f - p.q);
}

// A pixel's state in a fused fit: z, Adamax's two averages, and q = sigmoid(-z), carried so that
// each step evaluates one exp.
inline Tuple scale_state(Expr z, Expr exp_avg, Expr exp_inf) {
    return Tuple(z, exp_avg, exp_inf, fast_sigmoid(-z));
}

// d loss / d z of the data term at a pixel's state, from the moments of its segment.
inline Expr scale_data_d_z(Expr q, Func moments, Expr x, Expr y, Expr scales, Expr inv_n, bool chain) {
    ScalePosition p = scale_position(q, scales);
    Expr a = segment_moment(moments, x, y, 0, p.i, scales, chain);
    Expr b = segment_moment(moments, x, y, 1, p.i, scales, chain);
    return scale_moment_d_z(a, b, p, scales, inv_n);
}

// One Adamax step of a pixel's state (z, exp_avg, exp_inf, ...) with gradient g at the
// bias-corrected rate clr.
inline Tuple scale_step(Tuple s, Expr g, Expr clr, Expr beta1, Expr beta2, Expr eps) {
    AdamaxState n = adamax({s[0], s[1], s[2]}, g, clr, beta1, beta2, eps);
    return scale_state(n.param, n.exp_avg, n.exp_inf);
}

// The summed squared error of a pixel at q (divide by N for the mean).
inline Expr scale_moment_loss(Func moments, Expr x, Expr y, Expr q, Expr scales, bool chain) {
    ScalePosition p = scale_position(q, scales);
    return moment_loss(segment_moment(moments, x, y, 0, p.i, scales, chain),
                       segment_moment(moments, x, y, 1, p.i, scales, chain),
                       segment_moment(moments, x, y, 2, p.i, scales, chain), p.f);
}

}  // namespace blurmix
