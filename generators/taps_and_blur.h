// Gaussian blurs as pure Halide definitions: the kernel's taps and their sigma derivative, an
// image extended past its edges by the boundary rule, the separable blur (with its sigma
// derivative), and the exact spatially varying blur. Nothing here schedules.
#pragma once

#include "Halide.h"
#include "definitions.h"
#include "horizontal_pass_avx512.h"

namespace blurmix::gen {

using namespace Halide;

// definitions.h's kernel_half_width over Halide expressions, so that the generators and the
// runtime compute the half-width by the same rule.
struct ExprArithmetic {
    static Expr to_double(Expr v) { return cast<double>(v); }
    static Expr trunc_to_int(Expr v) { return cast<int>(v); }
    static Expr select(Expr c, Expr a, Expr b) { return Halide::select(c, a, b); }
    static Expr max(Expr a, Expr b) { return Halide::max(a, b); }
};

inline Expr half_width(Expr sigma, Expr std_devs) {
    return kernel_half_width<ExprArithmetic>(sigma, std_devs);
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

// f extended past [0, width) x [0, height) by the Boundary chosen at run time (its int value).
// Schedules specialize on the boundary so that only one rule is left in the compiled loops.
inline Func extend(Func f, Expr width, Expr height, Expr boundary, const std::string &name) {
    Region domain = {{0, width}, {0, height}};
    Func zero = BoundaryConditions::constant_exterior(f, 0.f, domain);
    Func edge = BoundaryConditions::repeat_edge(f, domain);
    Func mirror = BoundaryConditions::mirror_image(f, domain);
    Var x("x"), y("y"), c("c");
    Func e(name);
    e(x, y, c) = select(boundary == (int)Boundary::zero, zero(x, y, c),
                        boundary == (int)Boundary::clamp, edge(x, y, c),
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
    // Paired (with the derivative): each pass and its derivative as one Func of a Tuple, so that
    // a tap pair's sum f(i - t) + f(i + t), which both use, is loaded and added once;
    // vertical/d_vertical and output/d_output are then its elements. Undefined otherwise.
    Func vertical_pair, output_pair;
    // With use_horizontal_pass_kernel: the vertical pass as the kernel reads it. Undefined otherwise.
    Func kernel_input;
};

// b's horizontal pass (pass() along x over the vertical pass, taps w(0..radius)), or with
// BlurForm::paired_no_ext the pass paired with its derivative, computed by the hand-written
// AVX-512 kernels (kernels/horizontal_pass_avx512.cpp, which says why) as an extern stage
// instead: the same sums in the same order (the pair's derivative adds a tap's two terms one at a
// time where the Halide pass adds their sum: equal to float rounding). Only for targets with
// AVX-512, and for the *_no_ext forms (the kernels read the vertical pass past the edges). The kernels read b.kernel_input, the
// vertical pass (or pair) by another name: an extern stage's inputs are not redirected to
// wrappers (Func::in()), so the schedule uses this Func as the wrapper. has_horizontal_pass_kernel:
// whether a target can run the kernels (a CPU with AVX-512).
inline bool has_horizontal_pass_kernel(const Target &target) {
    return !target.has_gpu_feature() && target.has_feature(Target::AVX512);
}

inline void use_horizontal_pass_kernel(Blur &b, const std::string &name) {
    Var x("x"), y("y"), c("c");
    const bool paired = b.output_pair.defined();
    b.kernel_input = Func(name + "_kernel_input");
    Expr r = b.taps.radius;
    Func &in = b.kernel_input, &w = b.taps.w, &dw = b.taps.dw;
    // What the kernel reads, for bounds inference, in place of calling it in bounds-query mode:
    // Halide makes that query once for the whole output, so a kernel's input computed per tile
    // would be computed over the whole image in every tile. (An internal API; Halide's own
    // example of it is halide/Halide#3136.)
    Expr footprint;
    if (paired) {
        in(x, y, c) = b.vertical_pair(x, y, c);
        b.output_pair = Func(name + "_pair");
        b.output_pair.define_extern(kHorizontalPassPairAvx512, {in, w, dw, r}, {Float(32), Float(32)}, {x, y, c});
        footprint = in(x - r, y, c)[0] + in(x + r, y, c)[1] + w(0) + w(r) + dw(0) + dw(r);
        b.output = Func(name);
        b.output(x, y, c) = b.output_pair(x, y, c)[0];
        b.d_output = Func(name + "_d");
        b.d_output(x, y, c) = b.output_pair(x, y, c)[1];
    } else {
        in(x, y, c) = b.vertical(x, y, c);
        b.output = Func(name);
        b.output.define_extern(kHorizontalPassAvx512, {in, w, r}, Float(32), {x, y, c});
        footprint = in(x - r, y, c) + in(x + r, y, c) + w(0) + w(r);
    }
    Func kernel = paired ? b.output_pair : b.output;
    kernel.function().extern_definition_proxy_expr() = footprint;
}

// How blur() writes a blur: with its derivative, separate passes or paired (above); and whether
// the horizontal pass reads the vertical pass extended by the boundary rule (vertical_ext, with
// d_vertical_ext) or, with *_no_ext (which leave those undefined), the vertical pass itself over
// the columns past the edges, computed from the input extended in x. The two are the same numbers: the vertical pass runs along y, so
// extending its input in x (zero, clamp or mirror) extends its result in x by the same rule,
// for every row inside the image, which are the rows the horizontal pass reads.
enum class BlurForm { separate, separate_no_ext, paired, paired_no_ext };

inline Blur blur(Func in, Expr width, Expr height, Expr sigma, Expr std_devs, Expr boundary,
                 bool with_derivative, const std::string &name, BlurForm form = BlurForm::separate) {
    const bool paired = form == BlurForm::paired || form == BlurForm::paired_no_ext;
    const bool no_ext = form == BlurForm::separate_no_ext || form == BlurForm::paired_no_ext;
    Blur b;
    b.taps = gaussian_taps(sigma, std_devs, name + "_taps");
    b.input = extend(in, width, height, boundary, name + "_input");
    if (with_derivative && paired) {
        // The same sums as below, term for term.
        Var x("x"), y("y"), c("c");
        Func &w = b.taps.w, &dw = b.taps.dw;
        RDom rv(1, b.taps.radius, name + "_vertical_r");
        Func vp(name + "_vertical_pair");
        vp(x, y, c) = {w(0) * b.input(x, y, c), dw(0) * b.input(x, y, c)};
        Expr sv = b.input(x, y - rv, c) + b.input(x, y + rv, c);
        vp(x, y, c) = {vp(x, y, c)[0] + w(rv) * sv, vp(x, y, c)[1] + dw(rv) * sv};
        b.vertical_pair = vp;
        b.vertical = Func(name + "_vertical");
        b.vertical(x, y, c) = vp(x, y, c)[0];
        b.d_vertical = Func(name + "_d_vertical");
        b.d_vertical(x, y, c) = vp(x, y, c)[1];
        if (!no_ext) {
            b.vertical_ext = extend(b.vertical, width, height, boundary, name + "_vertical_ext");
            b.d_vertical_ext = extend(b.d_vertical, width, height, boundary, name + "_d_vertical_ext");
        }
        Func f = no_ext ? b.vertical : b.vertical_ext;
        Func df = no_ext ? b.d_vertical : b.d_vertical_ext;
        RDom rh(1, b.taps.radius, name + "_r");
        Func hp(name + "_pair");
        hp(x, y, c) = {w(0) * f(x, y, c), w(0) * df(x, y, c) + dw(0) * f(x, y, c)};
        Expr sf = f(x - rh, y, c) + f(x + rh, y, c), sdf = df(x - rh, y, c) + df(x + rh, y, c);
        hp(x, y, c) = {hp(x, y, c)[0] + w(rh) * sf, hp(x, y, c)[1] + (w(rh) * sdf + dw(rh) * sf)};
        b.output_pair = hp;
        b.output = Func(name);
        b.output(x, y, c) = hp(x, y, c)[0];
        b.d_output = Func(name + "_d");
        b.d_output(x, y, c) = hp(x, y, c)[1];
        return b;
    }
    b.vertical = pass(b.input, b.taps.w, b.taps.radius, true, name + "_vertical");
    if (!no_ext) b.vertical_ext = extend(b.vertical, width, height, boundary, name + "_vertical_ext");
    b.output = pass(no_ext ? b.vertical : b.vertical_ext, b.taps.w, b.taps.radius, false, name);
    if (with_derivative) {
        b.d_vertical = pass(b.input, b.taps.dw, b.taps.radius, true, name + "_d_vertical");
        if (!no_ext) b.d_vertical_ext = extend(b.d_vertical, width, height, boundary, name + "_d_vertical_ext");
        Var x("x"), y("y"), c("c");
        RDom r(1, b.taps.radius, name + "_d_r");
        Func f = no_ext ? b.vertical : b.vertical_ext, df = no_ext ? b.d_vertical : b.d_vertical_ext;
        b.d_output = Func(name + "_d");
        b.d_output(x, y, c) = b.taps.w(0) * df(x, y, c) + b.taps.dw(0) * f(x, y, c);
        b.d_output(x, y, c) += b.taps.w(r) * (df(x - r, y, c) + df(x + r, y, c)) +
                               b.taps.dw(r) * (f(x - r, y, c) + f(x + r, y, c));
    }
    return b;
}

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

}  // namespace blurmix::gen
