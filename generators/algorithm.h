// The blurmix algorithms, written once as pure Halide definitions and shared by the forward and
// gradient generators. Nothing here schedules: each generator schedules what it returns.
#pragma once

#include "Halide.h"

namespace blurmix {

using namespace Halide;

// Matches the runtime layer's blurmix::Boundary.
enum BoundaryKind { kZero = 0, kClamp = 1, kMirror = 2 };

// Half-width of the truncated kernel: max(1, ceil(std_devs * sigma)), in double as the seed's
// Python does, so that 2.5 * 0.4 lands on the same integer.
// The ceiling is spelled with a cast and a compare so that, with the estimates substituted, the
// simplifier folds it to a constant: the autoschedulers need constant reduction extents.
inline Expr half_width(Expr sigma, Expr std_devs) {
    Expr v = cast<double>(std_devs) * cast<double>(sigma);
    Expr t = cast<int>(v);  // v > 0: truncation is the floor
    return max(1, select(cast<double>(t) < v, t + 1, t));
}

// Normalized Gaussian taps w(t) for t in [-R, R] and their derivative with respect to sigma:
// dw_t/ds = w_t (t^2 - sum_u w_u u^2) / s^3 (the normalization's derivative included).
struct Taps {
    Func w, dw;   // defined for every integer t; meaningful on [-R, R]
    Func sum, m2; // the normalizer and the second moment, kept as Funcs to be scheduled
    Expr radius;
};

inline Taps gaussian_taps(Expr sigma, Expr std_devs, const std::string &name) {
    Var t("t");
    Taps k;
    k.radius = half_width(sigma, std_devs);
    RDom r(-k.radius, 2 * k.radius + 1, name + "_r");
    Func g(name + "_g");
    g(t) = exp(-cast<float>(t * t) / (2 * sigma * sigma));
    k.sum = Func(name + "_sum");
    k.sum() = 0.f;
    k.sum() += g(r);
    k.w = Func(name + "_w");
    k.w(t) = g(t) / k.sum();
    k.m2 = Func(name + "_m2");
    k.m2() = 0.f;
    k.m2() += k.w(r) * cast<float>(r * r);
    k.dw = Func(name + "_dw");
    k.dw(t) = k.w(t) * (cast<float>(t * t) - k.m2()) / (sigma * sigma * sigma);
    return k;
}

// f extended past [0, width) x [0, height) by the boundary chosen at run time: zero, clamp to
// edge, or mirror (the edge pixel repeated: numpy's 'symmetric'). Schedules specialize on the
// boundary so that only one rule is left in the compiled loops.
inline Func extend(Func f, Expr width, Expr height, Expr boundary, const std::string &name) {
    Region domain = {{0, width}, {0, height}};
    Func zero = BoundaryConditions::constant_exterior(f, 0.f, domain);
    Func edge = BoundaryConditions::repeat_edge(f, domain);
    Func mirror = BoundaryConditions::mirror_image(f, domain);
    Var x("x"), y("y"), c("c");
    Func e(name);
    e(x, y, c) = select(boundary == kZero, zero(x, y, c),
                        boundary == kClamp, edge(x, y, c),
                        mirror(x, y, c));
    return e;
}

// One separable pass with symmetric taps folded: w(0) f(i) + sum_{t>0} w(t) (f(i-t) + f(i+t)).
// vertical picks the direction. The RDom sum is an update, so GPU tiles need GuardWithIf.
inline Func pass(Func f, Func w, Expr radius, bool vertical, const std::string &name) {
    Var x("x"), y("y"), c("c");
    RDom r(1, radius, name + "_r");
    Func p(name);
    if (vertical) {
        p(x, y, c) = w(0) * f(x, y, c);
        p(x, y, c) += w(r) * (f(x, y - r, c) + f(x, y + r, c));
    } else {
        p(x, y, c) = w(0) * f(x, y, c);
        p(x, y, c) += w(r) * (f(x - r, y, c) + f(x + r, y, c));
    }
    return p;
}

// The separable Gaussian blur: a vertical pass, then a horizontal one over the vertical result
// extended by the same boundary rule (as zero padding of both convolutions does in the seed).
struct Blur {
    Taps taps;
    Func input, vertical, vertical_ext, output;
    // With the sigma derivative: d_vertical = dW_y * in, d_output = W_x * d_vertical + dW_x * vertical.
    Func d_vertical, d_vertical_ext, d_output;
};

inline Blur blur(Func in, Expr width, Expr height, Expr sigma, Expr std_devs, Expr boundary,
                 bool with_derivative, const std::string &name) {
    Blur b;
    b.taps = gaussian_taps(sigma, std_devs, name + "_taps");
    b.input = extend(in, width, height, boundary, name + "_input");
    b.vertical = pass(b.input, b.taps.w, b.taps.radius, true, name + "_vertical");
    b.vertical_ext = extend(b.vertical, width, height, boundary, name + "_vertical_ext");
    b.output = pass(b.vertical_ext, b.taps.w, b.taps.radius, false, name);
    if (with_derivative) {
        b.d_vertical = pass(b.input, b.taps.dw, b.taps.radius, true, name + "_d_vertical");
        b.d_vertical_ext = extend(b.d_vertical, width, height, boundary, name + "_d_vertical_ext");
        Var x("x"), y("y"), c("c");
        RDom r(1, b.taps.radius, name + "_d_r");
        Func &f = b.vertical_ext, &df = b.d_vertical_ext;
        b.d_output = Func(name + "_d");
        b.d_output(x, y, c) = b.taps.w(0) * df(x, y, c) + b.taps.dw(0) * f(x, y, c);
        b.d_output(x, y, c) += b.taps.w(r) * (df(x - r, y, c) + df(x + r, y, c)) +
                               b.taps.dw(r) * (f(x - r, y, c) + f(x + r, y, c));
    }
    return b;
}

// Sums of per-row partial sums, in double: rows are summed in float (vectorizable), rows added in
// double so that a 4-megapixel sum keeps its digits.
inline Func column_total(Func rows, Expr height, const std::string &name) {
    RDom ry(0, height, name + "_ry");
    Func t(name);
    t() = cast<double>(0);
    t() += cast<double>(rows(ry));
    return t;
}

struct MapTotal {
    Func rows, total;
};

inline MapTotal map_total(Func f, Expr width, Expr height, const std::string &name) {
    Var y("y");
    RDom rx(0, width, name + "_rx");
    MapTotal t;
    t.rows = Func(name + "_rows");
    t.rows(y) = 0.f;
    t.rows(y) += f(rx, y);
    t.total = column_total(t.rows, height, name);
    return t;
}

// The mix x_hat = m A + (1 - m) B with m = sigmoid(logit), and the mean squared error against a
// target, with the analytic gradients. N is the number of values (pixels times channels).
struct Mix {
    Func weight;    // m(x, y)
    Func output;    // x_hat(x, y, c)
    Func residual;  // x_hat - target
    Func row_loss;  // sum over x and c of residual^2, per row y (float; rows add in double)
    Func loss;      // () mean squared error
    Func d_weight;  // (x, y) d loss / d m, summed over channels
    Func d_logit;   // (x, y) d loss / d logit; its sum (map_total) is the gradient of one
                    // global logit broadcast to every pixel
};

inline Mix mix(Func a, Func b, Func logit, Func target, Expr width, Expr height, Expr channels) {
    Var x("x"), y("y"), c("c");
    Mix m;
    Expr n = cast<float>(width) * cast<float>(height) * cast<float>(channels);
    m.weight = Func("weight");
    m.weight(x, y) = 1.f / (1.f + exp(-logit(x, y)));
    m.output = Func("mixed");
    Expr w = m.weight(x, y);
    m.output(x, y, c) = w * a(x, y, c) + (1.f - w) * b(x, y, c);
    m.residual = Func("residual");
    m.residual(x, y, c) = m.output(x, y, c) - target(x, y, c);

    RDom rxc(0, width, 0, channels, "rxc");
    m.row_loss = Func("row_loss");
    m.row_loss(y) = 0.f;
    m.row_loss(y) += m.residual(rxc.x, y, rxc.y) * m.residual(rxc.x, y, rxc.y);
    m.loss = Func("loss");
    m.loss() = cast<float>(column_total(m.row_loss, height, "loss_total")() / cast<double>(n));

    RDom rc(0, channels, "rc");
    m.d_weight = Func("d_weight");
    m.d_weight(x, y) = 0.f;
    m.d_weight(x, y) += (2.f / n) * m.residual(x, y, rc) * (a(x, y, rc) - b(x, y, rc));
    m.d_logit = Func("d_logit");
    m.d_logit(x, y) = m.d_weight(x, y) * w * (1.f - w);
    return m;
}

// d loss / d sigma for each blur, given the blurs' sigma derivatives dA, dB:
// sum over pixels of (2/N) residual * (m dA) and (2/N) residual * ((1 - m) dB).
struct SigmaGrad {
    Func rows;              // (i, y): i = 0 for sigma_min, 1 for sigma_max; partial sums per row
    Func d_sigma_min, d_sigma_max;
};

inline SigmaGrad sigma_grad(const Mix &m, Func da, Func db, Expr width, Expr height, Expr channels) {
    Var y("y"), i("i");
    Expr n = cast<float>(width) * cast<float>(height) * cast<float>(channels);
    RDom rxc(0, width, 0, channels, "rxc");
    Expr w = m.weight(rxc.x, y);
    Expr r = (2.f / n) * m.residual(rxc.x, y, rxc.y);
    SigmaGrad s;
    s.rows = Func("sigma_grad_rows");
    s.rows(i, y) = 0.f;
    s.rows(i, y) += r * select(i == 0, w * da(rxc.x, y, rxc.y), (1.f - w) * db(rxc.x, y, rxc.y));
    RDom ry(0, height, "ry");
    Func total("sigma_grad_total");
    total(i) = cast<double>(0);
    total(i) += cast<double>(s.rows(i, ry));
    s.d_sigma_min = Func("d_sigma_min");
    s.d_sigma_min() = cast<float>(total(0));
    s.d_sigma_max = Func("d_sigma_max");
    s.d_sigma_max() = cast<float>(total(1));
    return s;
}

// PyTorch's Adamax step: exp_avg = b1 exp_avg + (1 - b1) g; exp_inf = max(b2 exp_inf, |g| + eps);
// p -= lr / (1 - b1^step) * exp_avg / exp_inf. The bias correction is in double, as in Python.
struct AdamaxState {
    Expr param, exp_avg, exp_inf;
};

inline Expr adamax_rate(Expr step, Expr lr, Expr beta1) {
    return cast<float>(cast<double>(lr) / (Expr(1.0) - pow(cast<double>(beta1), cast<double>(step))));
}

// clr is adamax_rate(step, lr, beta1), passed in so that a loop over steps can tabulate it.
inline AdamaxState adamax(AdamaxState s, Expr grad, Expr clr, Expr beta1, Expr beta2, Expr eps) {
    AdamaxState n;
    n.exp_avg = s.exp_avg * beta1 + grad * (1.f - beta1);
    n.exp_inf = max(s.exp_inf * beta2, abs(grad) + eps);
    n.param = s.param - clr * (n.exp_avg / n.exp_inf);
    return n;
}

}  // namespace blurmix

namespace blurmix {

// With the blurs fixed, each pixel's loss is a quadratic in its weight m: with D = A - B and
// R = B - T summed over channels, sum_c (m D + R)^2 = a m^2 + 2 b m + c, a = sum D^2,
// b = sum D R, c = sum R^2. A fit then needs only (a, b, c) per pixel, or their totals for one
// global weight: the same formulas hold with the totals.
inline Func moments(Func a, Func b, Func target, Expr channels) {
    Var x("x"), y("y"), j("j");
    RDom rc(0, channels, "rc");
    Expr d = a(x, y, rc) - b(x, y, rc), r = b(x, y, rc) - target(x, y, rc);
    Func m("moments");
    m(x, y, j) = 0.f;
    m(x, y, j) += select(j == 0, d * d, j == 1, d * r, r * r);
    return m;
}

struct MomentTotals {
    Func rows;    // (j, y) per-row sums
    Func totals;  // (j) in double
};

inline MomentTotals moment_totals(Func moments, Expr width, Expr height) {
    Var y("y"), j("j");
    RDom rx(0, width, "rx");
    MomentTotals t;
    t.rows = Func("moment_rows");
    t.rows(j, y) = 0.f;
    t.rows(j, y) += moments(rx, y, j);
    RDom ry(0, height, "ry");
    t.totals = Func("moment_totals");
    t.totals(j) = cast<double>(0);
    t.totals(j) += cast<double>(t.rows(j, ry));
    return t;
}

// The loss term and d loss / d logit of one pixel (or of the image, from totals), inv_n = 1 / N.
inline Expr moment_loss(Expr a, Expr b, Expr c, Expr m) { return (a * m + 2.f * b) * m + c; }

inline Expr moment_grad(Expr a, Expr b, Expr m, Expr inv_n) {
    return (2.f * inv_n) * (a * m + b) * (m * (1.f - m));
}

// sigmoid through Halide's polynomial fast_exp (about 2^-18 relative error), which vectorizes
// cleanly; the clamp keeps it away from overflow, where sigmoid is 0 or 1 in float anyway.
inline Expr fast_sigmoid(Expr l) { return 1.f / (1.f + fast_exp(-clamp(l, -80.f, 80.f))); }

}  // namespace blurmix
