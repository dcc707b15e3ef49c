// Timings of the local blur and the K-scale stack against the min/max method's stages, in one
// run (the machine is shared and noisy, so only the ratios mean much): each stage the best of
// several samples (Halide's benchmark), each whole fit the best of --repeat runs, interleaved.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <random>

#include "halide_benchmark.h"
#include "scales.h"

using namespace blurmix;

namespace {

Image noise(int w, int h, int c, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    Image im(w, h, c);
    im.for_each_value([&](float &v) { v = u(rng); });
    return im;
}

double best_ms(const std::function<void()> &op) {
    Halide::Tools::BenchmarkConfig config;
    config.accuracy = 0.03;
    config.max_time = 2.0;
    return Halide::Tools::benchmark(op, config).wall_time * 1e3;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"blurmix_bench_scales: the local blur and the K-scale stack against the min/max stages"};
    int size = 512, iters = 1000, repeat = 3;
    std::vector<int> scales = {2, 4, 7};
    Variant v;
    app.add_option("--size", size)->capture_default_str();
    app.add_option("--iters", iters, "iterations of each fit")->capture_default_str();
    app.add_option("--repeat", repeat, "runs of each fit; the best is kept (0: no fits)")->capture_default_str();
    app.add_option("--scales", scales)->capture_default_str();
    app.add_option("--schedule", v.schedule)->capture_default_str();
    bool step_by_step = false;
    app.add_flag("--step-by-step", step_by_step, "also time the stack's fits without the fused pipelines");
    CLI11_PARSE(app, argc, argv);
    try {
        Image src = noise(size, size, 1, 1);
        Map sigma(size, size);
        sigma.for_each_element([&](int x, int y) { sigma(x, y) = x < size / 2 ? 4.f : 7.f; });
        BlurOptions bo;
        bo.variant = v;
        std::printf("%dx%d, one channel, schedule %s; milliseconds, best of several samples\n", size, size,
                    v.schedule.c_str());

        const double t_blur7 = best_ms([&] { blur(src, 7.f, bo); });
        const double t_local = best_ms([&] { local_blur(src, sigma, bo); });
        std::printf("%-40s %9.3f\n", "blur, sigma 7 (separable)", t_blur7);
        std::printf("%-40s %9.3f  (%.1fx the separable blur)\n", "local blur, sigma 4 | 7 (R = 14, 2-D)", t_local,
                    t_local / t_blur7);

        Image target = local_blur(src, sigma, bo);
        Image a = blur(src, 3.f, bo), b = blur(src, 9.f, bo);
        Map z(size, size);
        z.fill(0.3f);
        const double t_mix = best_ms([&] { mix_gradient(a, b, z, target, v); });
        std::printf("%-40s %9.3f\n", "mix_gradient (min/max)", t_mix);
        for (int k : scales) {
            Stack stack = scale_stack(src, scale_sigmas(3.f, 9.f, k, Spacing::geometric), bo);
            for (Penalty p : {Penalty::none, Penalty::tv}) {
                const double t = best_ms([&] { scale_mix_gradient(stack, z, target, {p, 1e-3f}, v); });
                char name[64];
                std::snprintf(name, sizeof name, "scale_mix_gradient K=%d, penalty %s", k, penalty_name(p));
                std::printf("%-40s %9.3f  (%.2fx mix_gradient)\n", name, t, t / t_mix);
            }
        }
        AdamaxState st(z);
        const double t_adamax = best_ms([&] { adamax_step(st, z, {}, v); });
        std::printf("%-40s %9.3f\n", "adamax step", t_adamax);

        if (repeat < 1) return 0;  // the stages only
        // Whole fits, interleaved so that a busy moment of the machine hits all of them alike.
        FitOptions opt;
        opt.sigma_min = 3.f;
        opt.sigma_max = 9.f;
        opt.iters = iters;
        opt.blur = bo;
        // The stack's fits fused (the default), and with --step-by-step also the reference loop.
        const int passes = step_by_step ? 2 : 1;
        std::vector<double> best(1 + 2 * passes * scales.size(), 1e30);
        for (int r = 0; r < repeat; r++) {
            best[0] = std::min(best[0], fit(src, target, opt).seconds);
            for (int pass = 0; pass < passes; pass++) {
                FitOptions o = opt;
                o.fused = pass == 0;
                for (size_t i = 0; i < scales.size(); i++) {
                    const size_t at = 1 + 2 * (pass * scales.size() + i);
                    ScaleOptions so{scales[i], Spacing::geometric, {}};
                    best[at] = std::min(best[at], fit_scales(src, target, o, so).seconds);
                    so.smooth = {Penalty::tv, 3e-3f};
                    so.smooth_iters = iters / 2;
                    best[at + 1] = std::min(best[at + 1], fit_scales(src, target, o, so).seconds);
                }
            }
        }
        std::printf("\nwhole fits, %d iterations, best of %d runs: seconds, and the ratio to the min/max fit\n", iters,
                    repeat);
        std::printf("%-48s %9.3f\n", "min/max fit", best[0]);
        for (int pass = 0; pass < passes; pass++) {
            for (size_t i = 0; i < scales.size(); i++) {
                const size_t at = 1 + 2 * (pass * scales.size() + i);
                const char *how = pass == 0 ? "" : " step by step";
                char name[80];
                std::snprintf(name, sizeof name, "K=%d fit%s", scales[i], how);
                std::printf("%-48s %9.3f  %.2fx\n", name, best[at], best[at] / best[0]);
                std::snprintf(name, sizeof name, "K=%d fit%s, TV for half the iterations", scales[i], how);
                std::printf("%-48s %9.3f  %.2fx\n", name, best[at + 1], best[at + 1] / best[0]);
            }
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "blurmix_bench_scales: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
