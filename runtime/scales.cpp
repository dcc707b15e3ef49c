#include "scales.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "HalideRuntime.h"
#include "fit_recorder.h"
#include "pipelines.h"
#include "pipeline_headers.h"

namespace blurmix {

namespace {

void check_stack(const Stack &stack, const Map &z) {
    if (stack.dim(3).extent() < 2) throw Error("a scale stack needs at least 2 scales");
    if (z.width() != stack.width() || z.height() != stack.height()) {
        throw Error("scale map is " + size_text(z.width(), z.height()) + " but the image is " +
                    size_text(stack.width(), stack.height()));
    }
}

float sigmoid_neg(float z) { return 1.f / (1.f + std::exp(z)); }

}  // namespace

Image local_blur(const Image &input, const Map &sigma, const BlurOptions &opt) {
    check_sigma_map(sigma, input.width(), input.height(), "sigma map");
    check_std_devs(opt.std_devs);
    float largest = 0.f;
    sigma.for_each_value([&](float s) { largest = std::max(largest, s); });
    Image out(input.width(), input.height(), input.channels());
    auto fn = lookup("local_blur", opt.variant, &blurmix_local_blur_cpu_manual);
    check(fn(in(input), in(sigma), largest, opt.std_devs, (int)opt.boundary, out), "local blur", opt.variant);
    to_host(out);
    return out;
}

Spacing parse_spacing(const std::string &name) {
    if (name == "even") return Spacing::even;
    if (name == "geometric") return Spacing::geometric;
    throw Error("unknown spacing '" + name + "' (even or geometric)");
}

const char *spacing_name(Spacing s) { return s == Spacing::even ? "even" : "geometric"; }

std::vector<float> scale_sigmas(float s_min, float s_max, int scales, Spacing spacing) {
    check_sigma(s_min, "sigma-min");
    check_sigma(s_max, "sigma-max");
    if (!(s_min < s_max)) {
        throw Error("sigma-min (" + std::to_string(s_min) + ") must be smaller than sigma-max (" +
                    std::to_string(s_max) + ")");
    }
    // 64 scales of a 1000-pixel range are already closer than the fit can tell apart.
    if (scales < 2 || scales > 64) throw Error("scales must be from 2 to 64, not " + std::to_string(scales));
    std::vector<float> s(scales);
    for (int k = 0; k < scales; k++) {
        const double t = (double)k / (scales - 1);
        s[k] = spacing == Spacing::even ? (float)(s_min + t * ((double)s_max - s_min))
                                        : (float)(s_min * std::pow((double)s_max / s_min, t));
    }
    s.front() = s_min;
    s.back() = s_max;
    return s;
}

Stack scale_stack(const Image &input, const std::vector<float> &sigmas, const BlurOptions &opt) {
    Stack stack(input.width(), input.height(), input.channels(), (int)sigmas.size());
    for (int k = 0; k < (int)sigmas.size(); k++) {
        if (k > 0 && !(sigmas[k] > sigmas[k - 1])) throw Error("the stack's sigmas must increase");
        stack.sliced(3, k).copy_from(blur(input, sigmas[k], opt));
    }
    return stack;
}

Map scale_params_of(const Map &sigma, const std::vector<float> &sigmas) {
    const int K = (int)sigmas.size();
    Map z(sigma.width(), sigma.height());
    z.for_each_value([&](float &out, float s) {
        s = std::clamp(s, sigmas.front(), sigmas.back());
        int i = 0;
        while (i < K - 2 && s >= sigmas[i + 1]) i++;
        const double q = (i + (s - sigmas[i]) / ((double)sigmas[i + 1] - sigmas[i])) / (K - 1);
        out = q <= 0 ? 30.f : q >= 1 ? -30.f : (float)std::log((1 - q) / q);
    }, sigma);
    return z;
}

// As the generators compute it, in float.
Map sigma_of_scale_params(const Map &z, const std::vector<float> &sigmas) {
    const int K = (int)sigmas.size();
    Map s(z.width(), z.height());
    s.for_each_value([&](float &out, float zv) {
        const float u = (float)(K - 1) * sigmoid_neg(zv);
        const int i = std::clamp((int)std::floor(u), 0, K - 2);
        const float f = u - (float)i;
        out = (1.f - f) * sigmas[i] + f * sigmas[i + 1];
    }, z);
    return s;
}

Map scale_position_of(const Map &z, int scales) {
    Map u(z.width(), z.height());
    u.for_each_value([&](float &out, float zv) { out = (float)(scales - 1) * sigmoid_neg(zv); }, z);
    return u;
}

Image scale_mix(const Stack &stack, const Map &z, const Variant &v) {
    check_stack(stack, z);
    Image out(stack.width(), stack.height(), stack.dim(2).extent());
    auto fn = lookup("scale_mix", v, &blurmix_scale_mix_cpu_manual);
    check(fn(in(stack), in(z), out), "scale mix", v);
    to_host(out);
    return out;
}

Image scale_blur(const Image &input, const Map &sigma, int scales, Spacing spacing, const BlurOptions &opt) {
    check_sigma_map(sigma, input.width(), input.height(), "sigma map");
    float lo = sigma(0, 0), hi = lo;
    sigma.for_each_value([&](float s) { lo = std::min(lo, s); hi = std::max(hi, s); });
    if (!(lo < hi)) throw Error("the sigma map is constant (" + std::to_string(lo) + "): blur it with --sigma");
    std::vector<float> sigmas = scale_sigmas(lo, hi, scales, spacing);
    return scale_mix(scale_stack(input, sigmas, opt), scale_params_of(sigma, sigmas), opt.variant);
}

Penalty parse_penalty(const std::string &name) {
    if (name == "tv") return Penalty::tv;
    if (name == "quadratic") return Penalty::quadratic;
    throw Error("unknown smoothness '" + name + "' (tv or quadratic)");
}

const char *penalty_name(Penalty p) {
    switch (p) {
    case Penalty::none: return "none";
    case Penalty::tv: return "tv";
    case Penalty::quadratic: return "quadratic";
    }
    return "?";
}

ScaleGradient scale_mix_gradient(const Stack &stack, const Map &z, const Image &target,
                                 const Smoothness &smooth, const Variant &v) {
    check_stack(stack, z);
    if (target.width() != stack.width() || target.height() != stack.height() ||
        target.channels() != stack.dim(2).extent()) {
        throw Error("source and target: sizes differ");
    }
    ScaleGradient g;
    g.d_z = Map(z.width(), z.height());
    auto loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto penalty = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto fn = lookup("scale_mix_gradient", v, &blurmix_scale_mix_gradient_cpu_manual);
    check(fn(in(stack), in(z), in(target), (int)smooth.kind, smooth.weight, loss, penalty, g.d_z),
          "scale mix gradient", v);
    to_host(loss);
    to_host(penalty);
    to_host(g.d_z);
    g.loss = loss();
    g.penalty = penalty();
    return g;
}

void check_scale_options(const FitOptions &opt, const ScaleOptions &so) {
    if (opt.mode != Mode::local) throw Error("--scales fits a scale per pixel: it needs --mode local");
    if (opt.learn_sigmas) throw Error("--scales does not learn the sigmas: drop --learn-sigmas");
    if (!(so.smooth.weight >= 0.f) || !std::isfinite(so.smooth.weight)) {
        throw Error("smooth must be a number >= 0, not " + std::to_string(so.smooth.weight));
    }
    scale_sigmas(opt.sigma_min, opt.sigma_max, so.scales, so.spacing);  // checks the range and K
}

ScaleOptions smoothed_scale_options(int iters) {
    ScaleOptions so;
    so.spacing = Spacing::geometric;
    so.smooth = {Penalty::tv, 1e-3f};
    so.smooth_iters = iters / 2;
    return so;
}

namespace {

bool smoothing_at(const ScaleOptions &so, const Smoothness &smooth, int it) {
    return smooth.kind != Penalty::none && (so.smooth_iters < 0 || it < so.smooth_iters);
}

// The reference: one scale_mix_gradient (with the penalty while it holds) and one Adamax step
// per iteration, every iteration's objective recorded.
Map fit_scales_stepwise(const Stack &stack, const Image &target, const Map &init, const ScaleOptions &so,
                        const Smoothness &smooth, const std::vector<float> &sigmas, FitRecorder &rec) {
    const FitOptions &opt = rec.opt;
    const Variant &v = opt.blur.variant;
    AdamaxState z(init);
    for (int it = 0; it < opt.iters; it++) {
        if (rec.stop(it)) break;
        ScaleGradient g = scale_mix_gradient(stack, z.param, target,
                                             smoothing_at(so, smooth, it) ? smooth : Smoothness{}, v);
        rec.record(it, g.loss + g.penalty, z.param, sigmas.front(), sigmas.back());
        adamax_step(z, g.d_z, opt.adamax, v);
        rec.r.iterations = it + 1;
    }
    return z.param;
}

// The fused fit: the per-pixel moments of every segment once (scale_moments), then runs of
// iterations between two recorded ones in one call: scale_steps without the penalty, each pixel
// alone; scale_smooth_steps while it holds, kSmoothStepsPerCall at most a call. Runs are also
// cut where the penalty ends, so that each call is one or the other.
Map fit_scales_fused(const Stack &stack, const Image &target, const Map &init, const ScaleOptions &so,
                     const Smoothness &smooth, const std::vector<float> &sigmas, FitRecorder &rec) {
    const FitOptions &opt = rec.opt;
    const Variant &v = opt.blur.variant;
    const int w = stack.width(), h = stack.height(), K = stack.dim(3).extent();
    Halide::Runtime::Buffer<float, 4> moments(w, h, 3, K - 1);
    auto moments_fn = lookup("scale_moments", v, &blurmix_scale_moments_cpu_manual);
    check(moments_fn(in(stack), in(target), moments), "scale moments", v);
    const float inv_n = (float)(1.0 / ((double)w * h * stack.dim(2).extent()));
    // Not in place: the loss outputs read the starting state, which a pipeline may schedule
    // after writing the new one.
    Image state(w, h, 3), next(w, h, 3);
    state.fill(0.f);
    state.sliced(2, 0).copy_from(init);
    auto loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto penalty = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto steps_fn = lookup("scale_steps", v, &blurmix_scale_steps_cpu_manual);
    auto smooth_fn = lookup("scale_smooth_steps", v, &blurmix_scale_smooth_steps_cpu_manual);
    const AdamaxParams &p = opt.adamax;
    // A run stays on one side of where the penalty ends, and smoothed runs are short.
    auto limit = [&](int it) {
        int limit = smoothing_at(so, smooth, it) ? std::min(opt.iters, it + kSmoothStepsPerCall) : opt.iters;
        if (it < so.smooth_iters) limit = std::min(limit, so.smooth_iters);
        return limit;
    };
    auto run = [&](int it, int end) {
        if (smoothing_at(so, smooth, it)) {
            check(smooth_fn(moments, state, it, end - it, p.lr, p.beta1, p.beta2, p.eps, inv_n,
                            (int)smooth.kind, smooth.weight, rec.wanted(it), next, loss, penalty),
                  "scale smooth steps", v);
            to_host(loss);
            to_host(penalty);
            return loss() + penalty();
        }
        check(steps_fn(moments, state, it, end - it, p.lr, p.beta1, p.beta2, p.eps, inv_n, next, loss),
              "scale steps", v);
        to_host(loss);
        return loss();
    };
    rec.run_fused(state, next, limit, run, sigmas.front(), sigmas.back());
    return state.sliced(2, 0);  // a view of the z plane
}

}  // namespace

FitResult fit_scales(const Image &source, const Image &target, const FitOptions &opt, const ScaleOptions &so) {
    check_fit_inputs(source, target, opt);
    check_scale_options(opt, so);
    const auto start = std::chrono::steady_clock::now();
    const Variant &v = opt.blur.variant;
    const std::vector<float> sigmas = scale_sigmas(opt.sigma_min, opt.sigma_max, so.scales, so.spacing);
    const Stack stack = scale_stack(source, sigmas, opt.blur);
    Smoothness smooth = so.smooth;
    if (smooth.weight == 0.f) smooth.kind = Penalty::none;

    Map init(source.width(), source.height());
    init.fill(0.f);
    if (so.initial.data()) {
        if (so.initial.width() != source.width() || so.initial.height() != source.height()) {
            throw Error("the initial scale map is " + size_text(so.initial.width(), so.initial.height()) +
                        " but the image is " + size_text(source.width(), source.height()));
        }
        init.copy_from(so.initial);
    }
    FitResult r;
    FitRecorder rec{opt, r};
    const Map z = opt.fused ? fit_scales_fused(stack, target, init, so, smooth, sigmas, rec)
                            : fit_scales_stepwise(stack, target, init, so, smooth, sigmas, rec);
    r.sigma_min = sigmas.front();
    r.sigma_max = sigmas.back();
    r.params = z;
    r.sigma = sigma_of_scale_params(z, sigmas);
    r.fitted = scale_mix(stack, z, v);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

}  // namespace blurmix
