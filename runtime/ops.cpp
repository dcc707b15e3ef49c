#include "ops.h"

#include <cmath>

#include "pipeline_headers.h"
#include "pipelines.h"

namespace blurmix {

namespace {

Image like(const Image &in) { return Image(in.width(), in.height(), in.channels()); }

}  // namespace

Boundary parse_boundary(const std::string &name) {
    if (name == "zero") return Boundary::zero;
    if (name == "clamp") return Boundary::clamp;
    if (name == "mirror") return Boundary::mirror;
    throw Error("unknown boundary '" + name + "' (zero, clamp or mirror)");
}

const char *boundary_name(Boundary b) {
    switch (b) {
    case Boundary::zero: return "zero";
    case Boundary::clamp: return "clamp";
    case Boundary::mirror: return "mirror";
    }
    return "?";
}

Map logit_view(const Map &logits, int width, int height) {
    if (logits.width() == 1 && logits.height() == 1) {
        // Zero strides: the pipelines read one global logit as a map.
        halide_dimension_t dims[2] = {{0, width, 0}, {0, height, 0}};
        return Map(const_cast<float *>(logits.data()), 2, dims);
    }
    if (logits.width() != width || logits.height() != height) {
        throw Error("weight map is " + size_text(logits.width(), logits.height()) + " but the image is " +
                    size_text(width, height));
    }
    return logits;
}

Image blur(const Image &input, float sigma, const BlurOptions &opt) {
    Image out = like(input);
    blur(input, sigma, opt, out);
    return out;
}

void blur(const Image &input, float sigma, const BlurOptions &opt, Image &out) {
    check_sigma(sigma, "sigma");
    check_std_devs(opt.std_devs);
    check_same_size(input, out, "blur output");
    auto fn = lookup("blur", opt.variant, &blurmix_blur_cpu_manual);
    check(fn(in(input), sigma, opt.std_devs, (int)opt.boundary, out), "blur", opt.variant);
    to_host(out);
}

std::pair<Image, Image> blur_with_derivative(const Image &input, float sigma, const BlurOptions &opt) {
    Image out = like(input), d_out = like(input);
    blur_with_derivative(input, sigma, opt, out, d_out);
    return {out, d_out};
}

void blur_with_derivative(const Image &input, float sigma, const BlurOptions &opt, Image &out, Image &d_out) {
    check_sigma(sigma, "sigma");
    check_std_devs(opt.std_devs);
    check_same_size(input, out, "blur output");
    check_same_size(input, d_out, "blur derivative output");
    auto fn = lookup("blur_with_derivative", opt.variant, &blurmix_blur_with_derivative_cpu_manual);
    check(fn(in(input), sigma, opt.std_devs, (int)opt.boundary, out, d_out), "blur with derivative", opt.variant);
    to_host(out);
    to_host(d_out);
}

Image mix(const Image &blur_min, const Image &blur_max, const Map &logits, const Variant &v) {
    Image out = like(blur_min);
    mix(blur_min, blur_max, logits, v, out);
    return out;
}

void mix(const Image &blur_min, const Image &blur_max, const Map &logits, const Variant &v, Image &out) {
    check_same_size(blur_min, blur_max, "mix");
    check_same_size(blur_min, out, "mix output");
    Map l = logit_view(logits, blur_min.width(), blur_min.height());
    auto fn = lookup("mix", v, &blurmix_mix_cpu_manual);
    check(fn(in(blur_min), in(blur_max), in(l), out), "mix", v);
    to_host(out);
}

Map logits_of(const Map &weights) {
    Map out(weights.width(), weights.height());
    out.for_each_value([](float &l, float w) {
        if (!(w >= 0.f && w <= 1.f)) throw Error("weights must lie in [0, 1], found " + std::to_string(w));
        l = w <= 0.f ? -30.f : w >= 1.f ? 30.f : std::log(w / (1.f - w));
    }, weights);
    return out;
}

Map weights_of(const Map &logits) {
    Map out(logits.width(), logits.height());
    out.for_each_value([](float &w, float l) { w = 1.f / (1.f + std::exp(-l)); }, logits);
    return out;
}

Gradient mix_gradient(const Image &blur_min, const Image &blur_max, const Map &logits,
                      const Image &target, const Variant &v, const Image *d_blur_min,
                      const Image *d_blur_max) {
    check_same_size(blur_min, blur_max, "mix gradient");
    check_same_size(blur_min, target, "source and target");
    Gradient g;
    g.d_logit = Map(blur_min.width(), blur_min.height());
    Map l = logit_view(logits, blur_min.width(), blur_min.height());
    auto loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto total = Halide::Runtime::Buffer<double, 0>::make_scalar();
    if (d_blur_min && d_blur_max) {
        auto ds_min = Halide::Runtime::Buffer<float, 0>::make_scalar();
        auto ds_max = Halide::Runtime::Buffer<float, 0>::make_scalar();
        auto fn = lookup("mix_gradient_sigmas", v, &blurmix_mix_gradient_sigmas_cpu_manual);
        check(fn(in(blur_min), in(blur_max), in(l), in(target), in(*d_blur_min), in(*d_blur_max), loss, g.d_logit, total,
                 ds_min, ds_max), "mix gradient", v);
        to_host(ds_min);
        to_host(ds_max);
        g.d_sigma_min = ds_min();
        g.d_sigma_max = ds_max();
    } else {
        auto fn = lookup("mix_gradient", v, &blurmix_mix_gradient_cpu_manual);
        check(fn(in(blur_min), in(blur_max), in(l), in(target), loss, g.d_logit, total), "mix gradient", v);
    }
    to_host(loss);
    to_host(total);
    to_host(g.d_logit);
    g.loss = loss();
    g.d_logit_total = total();
    return g;
}

AdamaxState::AdamaxState(const Map &initial)
    : param(initial.copy()), exp_avg(initial.width(), initial.height()),
      exp_inf(initial.width(), initial.height()) {
    exp_avg.fill(0.f);
    exp_inf.fill(0.f);
}

void adamax_step(AdamaxState &s, const Map &grad, const AdamaxParams &p, const Variant &v) {
    // Fresh outputs rather than in place: an autoscheduled variant may order its three outputs
    // so that one reads a state another has already overwritten.
    Map param(s.param.width(), s.param.height()), avg(param.width(), param.height()),
        inf(param.width(), param.height());
    // A few parameters (the two sigmas, one global logit) are not worth a GPU launch, and an
    // autoscheduled variant's tiles, sized for a map of the estimates' size, may not fit them.
    const bool tiny = s.param.number_of_elements() < 64;
    const Variant used = tiny ? Variant{} : v;
    auto fn = lookup("adamax", used, &blurmix_adamax_cpu_manual);
    check(fn(in(s.param), in(s.exp_avg), in(s.exp_inf), in(grad), s.step + 1, p.lr, p.beta1, p.beta2, p.eps,
             param, avg, inf), "adamax", used);
    for (Map *m : {&param, &avg, &inf}) to_host(m->raw_buffer());
    s.param = param;
    s.exp_avg = avg;
    s.exp_inf = inf;
    s.step++;
}

}  // namespace blurmix
