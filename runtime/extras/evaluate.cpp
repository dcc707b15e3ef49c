#include "evaluate.h"

#include <chrono>
#include <cmath>
#include <map>

namespace blurmix {

std::vector<RegionError> region_errors(const Map &truth, const Map &recovered) {
    std::map<float, RegionError> by_value;
    RegionError all{NAN, 0, 0, 0};
    bool piecewise = true;
    truth.for_each_element([&](int x, int y) {
        const float t = truth(x, y), r = recovered(x, y);
        const double e = std::abs((double)r - t);
        all.pixels++;
        all.mean += r;
        all.mae += e;
        if (!piecewise) return;
        auto it = by_value.find(t);
        if (it == by_value.end()) {
            if (by_value.size() == 16) {
                piecewise = false;
                return;
            }
            it = by_value.emplace(t, RegionError{t, 0, 0, 0}).first;
        }
        it->second.pixels++;
        it->second.mean += r;
        it->second.mae += e;
    });
    std::vector<RegionError> out;
    if (!piecewise) by_value = {{0.f, all}};
    for (auto &[t, e] : by_value) {
        e.mean /= e.pixels;
        e.mae /= e.pixels;
        out.push_back(e);
    }
    return out;
}

namespace {

double mse(const Image &a, const Image &b) {
    double s = 0;
    a.for_each_element([&](int x, int y, int c) {
        const double d = (double)a(x, y, c) - b(x, y, c);
        s += d * d;
    });
    return s / (double)a.number_of_elements();
}

MethodReport report(const std::string &name, int scales, FitResult fit, const Image &target, const Map &truth) {
    MethodReport m{name, scales, std::move(fit), 0, 0, {}};
    m.mse = mse(m.fit.fitted, target);
    m.regions = region_errors(truth, m.fit.sigma);
    double e = 0;
    truth.for_each_element([&](int x, int y) { e += std::abs((double)m.fit.sigma(x, y) - truth(x, y)); });
    m.sigma_mae = e / (double)truth.number_of_elements();
    return m;
}

}  // namespace

Evaluation evaluate(const Image &signal, const Map &sigma, const FitOptions &base,
                    const std::vector<int> &scales, const ScaleOptions &so, float scale_lr,
                    const std::function<void(const std::string &, FitOptions &)> &progress_for, int repeat) {
    if (repeat < 1) throw Error("repeat must be at least 1, not " + std::to_string(repeat));
    auto best_of = [repeat](const std::function<FitResult()> &run) {
        FitResult r = run();
        for (int i = 1; i < repeat; i++) {
            const double best = r.seconds;
            r = run();
            r.seconds = std::min(r.seconds, best);
        }
        return r;
    };
    check_finite(signal, "signal");
    check_sigma_map(sigma, signal.width(), signal.height(), "sigma map");
    for (int k : scales) {
        ScaleOptions s = so;
        s.scales = k;
        check_scale_options(base, s);
    }
    Evaluation ev;
    const auto start = std::chrono::steady_clock::now();
    ev.target = local_blur(signal, sigma, base.blur);
    ev.target_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    FitOptions opt = base;
    opt.mode = Mode::local;
    opt.learn_sigmas = false;
    if (progress_for) progress_for("min/max", opt);
    ev.methods.push_back(report("min/max", 2, best_of([&] { return fit(signal, ev.target, opt); }), ev.target, sigma));
    for (int k : scales) {
        ScaleOptions s = so;
        s.scales = k;
        const std::string name = "K=" + std::to_string(k);
        opt = base;
        opt.adamax.lr = scale_lr;
        if (progress_for) progress_for(name, opt);
        ev.methods.push_back(
            report(name, k, best_of([&] { return fit_scales(signal, ev.target, opt, s); }), ev.target, sigma));
    }
    return ev;
}

Map experiment_d_sigma(int width, int height) {
    Map s(width, height);
    s.for_each_element([&](int x, int y) { s(x, y) = x < width / 2 ? 4.f : 7.f; });
    return s;
}

Evaluation experiment_d(const Image &signal, const FitOptions &base, const std::vector<int> &scales,
                        const std::function<void(const std::string &, FitOptions &)> &progress_for) {
    FitOptions opt = base;
    opt.sigma_min = 3.f;
    opt.sigma_max = 9.f;
    return evaluate(signal, experiment_d_sigma(signal.width(), signal.height()), opt, scales,
                    smoothed_scale_options(base.iters), kScaleFitLr, progress_for);
}

}  // namespace blurmix
