#include "fit.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "fit_recorder.h"
#include "pipeline_headers.h"
#include "pipelines.h"

namespace blurmix {

Mode parse_mode(const std::string &name) {
    if (name == "local") return Mode::local;
    if (name == "global") return Mode::global;
    throw Error("unknown mode '" + name + "' (local or global)");
}

void check_fit_inputs(const Image &source, const Image &target, const FitOptions &opt) {
    check_same_size(source, target, "source and target");
    check_sigma(opt.sigma_min, "sigma-min");
    check_sigma(opt.sigma_max, "sigma-max");
    if (!(opt.sigma_min < opt.sigma_max)) {
        throw Error("sigma-min (" + std::to_string(opt.sigma_min) +
                    ") must be smaller than sigma-max (" + std::to_string(opt.sigma_max) + ")");
    }
    if (opt.iters < 1) throw Error("iters must be at least 1, not " + std::to_string(opt.iters));
    if (!(opt.adamax.lr > 0.f) || !std::isfinite(opt.adamax.lr)) {
        throw Error("lr must be a positive number, not " + std::to_string(opt.adamax.lr));
    }
    check_finite(source, "source");
    check_finite(target, "target");
    if (opt.report_every < 1) throw Error("report_every must be at least 1");
}

float loss_at(const FitResult &r, int iteration) {
    for (const LossPoint &p : r.losses) {
        if (p.iteration == iteration) return p.loss;
    }
    throw Error("the loss at iteration " + std::to_string(iteration) + " was not recorded");
}

namespace {

// One mix gradient and one Adamax step per iteration; the blurs and their sigma derivatives
// recomputed each iteration when the sigmas are learned.
// a and b are left as the blurs at the final sigmas.
Map fit_stepwise(const Image &source, const Image &target, const FitOptions &opt, FitRecorder &rec,
                 Image &a, Image &b, float &s_min_out, float &s_max_out) {
    const Variant &v = opt.blur.variant;
    Map init = opt.mode == Mode::local ? Map(source.width(), source.height()) : Map(1, 1);
    init.fill(0.f);
    AdamaxState logits(init);
    Map sigmas0(2, 1);
    sigmas0(0, 0) = opt.sigma_min;
    sigmas0(1, 0) = opt.sigma_max;
    AdamaxState sigmas(sigmas0);
    Image da, db;
    if (!opt.learn_sigmas) {
        a = blur(source, opt.sigma_min, opt.blur);
        b = blur(source, opt.sigma_max, opt.blur);
    }
    Map grad_total(1, 1), grad_sigmas(2, 1);
    for (int it = 0; it < opt.iters; it++) {
        if (rec.stop(it)) break;
        const float s_min = sigmas.param(0, 0), s_max = sigmas.param(1, 0);
        if (opt.learn_sigmas) {
            std::tie(a, da) = blur_with_derivative(source, s_min, opt.blur);
            std::tie(b, db) = blur_with_derivative(source, s_max, opt.blur);
        }
        Gradient g = opt.learn_sigmas ? mix_gradient(a, b, logits.param, target, v, &da, &db)
                                      : mix_gradient(a, b, logits.param, target, v);
        rec.record(it, g.loss, logits.param, s_min, s_max);
        if (opt.mode == Mode::global) {
            grad_total(0, 0) = (float)g.d_logit_total;
            adamax_step(logits, grad_total, opt.adamax, v);
        } else {
            adamax_step(logits, g.d_logit, opt.adamax, v);
        }
        if (opt.learn_sigmas) {
            grad_sigmas(0, 0) = g.d_sigma_min;
            grad_sigmas(1, 0) = g.d_sigma_max;
            adamax_step(sigmas, grad_sigmas, opt.adamax, v);
            // The kernel needs sigma > 0; a step that would cross it stops just short.
            for (int i = 0; i < 2; i++) sigmas.param(i, 0) = std::max(sigmas.param(i, 0), 0.05f);
        }
        rec.r.iterations = it + 1;
    }
    s_min_out = sigmas.param(0, 0);
    s_max_out = sigmas.param(1, 0);
    if (opt.learn_sigmas) {
        a = blur(source, s_min_out, opt.blur);
        b = blur(source, s_max_out, opt.blur);
    }
    return logits.param;
}

// Fixed blurs: the fit needs only each pixel's moments (a, b, c), or their totals for a global
// weight; fit_steps then runs the iterations between two recorded ones in one call.
Map fit_fused(const Image &source, const Image &target, const FitOptions &opt, FitRecorder &rec,
              Image &a, Image &b) {
    const Variant &v = opt.blur.variant;
    const int w = source.width(), h = source.height();
    a = blur(source, opt.sigma_min, opt.blur);
    b = blur(source, opt.sigma_max, opt.blur);
    Image moments(w, h, 3);
    Halide::Runtime::Buffer<double, 1> totals(3);
    auto moments_fn = lookup("fit_moments", v, &blurmix_fit_moments_cpu_manual);
    check(moments_fn(in(a), in(b), in(target), moments, totals), "fit moments", v);
    to_host(moments);
    to_host(totals);
    if (opt.mode == Mode::global) {
        Image m(1, 1, 3);
        for (int j = 0; j < 3; j++) m(0, 0, j) = (float)totals(j);
        moments = m;
    }
    const float inv_n = (float)(1.0 / ((double)w * h * source.channels()));
    // Not in place: the loss output reads the starting state, which the pipeline may schedule
    // after writing the new one. (A zero-stride zero state would save the fill on the CPU, but
    // Halide's copy to a GPU does not take zero strides.)
    Image state(moments.width(), moments.height(), 3), next(moments.width(), moments.height(), 3);
    state.fill(0.f);
    auto loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto steps_fn = lookup("fit_steps", v, &blurmix_fit_steps_cpu_manual);
    const AdamaxParams &p = opt.adamax;
    auto run = [&](int it, int end) {
        check(steps_fn(moments, state, it, end - it, p.lr, p.beta1, p.beta2, p.eps, inv_n, next, loss),
              "fit steps", v);
        to_host(loss);
        return loss();
    };
    rec.run_fused(state, next, [&](int) { return opt.iters; }, run, opt.sigma_min, opt.sigma_max);
    return state.sliced(2, 0);  // a view of the logit plane
}

// Learned sigmas, local mode: each iteration is one call of fit_sigma_step, which recomputes
// both blurs and their sigma derivatives and updates the logits and the sigmas together.
Map fit_sigma_fused(const Image &source, const Image &target, const FitOptions &opt,
                    FitRecorder &rec, Image &a, Image &b, float &s_min_out, float &s_max_out) {
    const Variant &v = opt.blur.variant;
    const int w = source.width(), h = source.height();
    Image state(w, h, 3), next(w, h, 3);
    state.fill(0.f);
    Map sigmas(2, 3), sigmas_next(2, 3);
    sigmas.fill(0.f);
    sigmas(0, 0) = opt.sigma_min;
    sigmas(1, 0) = opt.sigma_max;
    auto loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto fn = lookup("fit_sigma_step", v, &blurmix_fit_sigma_step_cpu_manual);
    const AdamaxParams &p = opt.adamax;
    for (int it = 0; it < opt.iters; it++) {
        if (rec.stop(it)) break;
        check(fn(in(source), in(target), state, sigmas(0, 0), sigmas(1, 0), sigmas, it + 1, p.lr, p.beta1, p.beta2, p.eps,
                 opt.blur.std_devs, (int)opt.blur.boundary, next, sigmas_next, loss),
              "fit sigma step", v);
        to_host(loss);
        to_host(sigmas_next);
        rec.record(it, loss(), state.sliced(2, 0), sigmas(0, 0), sigmas(1, 0));
        to_host(next);
        std::swap(state, next);
        std::swap(sigmas, sigmas_next);
        rec.r.iterations = it + 1;
    }
    s_min_out = sigmas(0, 0);
    s_max_out = sigmas(1, 0);
    a = blur(source, s_min_out, opt.blur);
    b = blur(source, s_max_out, opt.blur);
    return state.sliced(2, 0);  // a view of the logit plane
}

}  // namespace

FitResult fit(const Image &source, const Image &target, const FitOptions &opt) {
    check_fit_inputs(source, target, opt);
    const auto start = std::chrono::steady_clock::now();
    const int w = source.width(), h = source.height();
    FitResult r;
    FitRecorder rec{opt, r};
    r.sigma_min = opt.sigma_min;
    r.sigma_max = opt.sigma_max;
    Image a, b;
    if (opt.fused && !opt.learn_sigmas) {
        r.logits = fit_fused(source, target, opt, rec, a, b);
    } else if (opt.fused && opt.mode == Mode::local) {
        r.logits = fit_sigma_fused(source, target, opt, rec, a, b, r.sigma_min, r.sigma_max);
    } else {
        r.logits = fit_stepwise(source, target, opt, rec, a, b, r.sigma_min, r.sigma_max);
    }
    r.weights = Map(w, h);
    r.sigma = Map(w, h);
    auto maps_fn = lookup("fit_maps", opt.blur.variant, &blurmix_fit_maps_cpu_manual);
    check(maps_fn(logit_view(r.logits, w, h), r.sigma_min, r.sigma_max, r.weights, r.sigma), "fit maps", opt.blur.variant);
    to_host(r.weights);
    to_host(r.sigma);
    r.fitted = mix(a, b, r.logits, opt.blur.variant);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

}  // namespace blurmix
