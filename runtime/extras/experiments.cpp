#include "experiments.h"

#include <cstring>

#include "seed_signal.h"  // generated from data/signal_64x64.npy

namespace blurmix {

Image seed_signal() {
    Image im(seed_signal_width, seed_signal_height, 1);
    static_assert(sizeof(seed_signal_data) == 4 * seed_signal_width * seed_signal_height, "64x64 float32");
    std::memcpy(im.data(), seed_signal_data, sizeof(seed_signal_data));
    return im;
}

ExperimentA experiment_a(const Image &signal, const Variant &v) {
    ExperimentA e;
    BlurOptions o;
    o.variant = v;
    e.truth = blur(signal, 3.f, o);
    Map half(1, 1);
    half(0, 0) = 0.f;  // sigmoid(0) = 0.5
    Image a = blur(signal, 1.f, o), b = blur(signal, 5.f, o);
    e.mixed = mix(a, b, half, v);
    e.mse = mix_gradient(a, b, half, e.truth, v).loss;
    return e;
}

ExperimentB experiment_b(const Image &signal, FitOptions opt) {
    ExperimentB e;
    e.truth = blur(signal, 3.f, opt.blur);
    opt.mode = Mode::global;
    opt.sigma_min = 3.f;
    opt.sigma_max = 9.f;
    e.fit = fit(signal, e.truth, opt);
    e.weight = e.fit.weights(0, 0);
    e.recovered_sigma = e.weight * opt.sigma_min + (1 - e.weight) * opt.sigma_max;
    return e;
}

ExperimentC experiment_c(const Image &signal, FitOptions opt) {
    ExperimentC e;
    const int w = signal.width(), h = signal.height();
    Map left(w, h);
    left.for_each_element([&](int x, int y) { left(x, y) = x < w / 2 ? 1.f : 0.f; });
    e.target = mix(blur(signal, 4.f, opt.blur), blur(signal, 7.f, opt.blur), logits_of(left),
                   opt.blur.variant);
    opt.mode = Mode::local;
    opt.sigma_min = 3.f;
    opt.sigma_max = 9.f;
    e.fit = fit(signal, e.target, opt);
    double l = 0, r = 0;
    e.fit.sigma.for_each_element([&](int x, int y) { (x < w / 2 ? l : r) += e.fit.sigma(x, y); });
    e.sigma_left_mean = (float)(l / ((w / 2) * h));
    e.sigma_right_mean = (float)(r / ((w - w / 2) * h));
    return e;
}

}  // namespace blurmix
