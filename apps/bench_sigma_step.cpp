// bench_sigma_step: the learned-sigma iteration (fit_sigma_step) in each of its CPU schedule
// variants (images at root, as before issue 17; strips), built side by side, timed in one run,
// interleaved.
//   bench_sigma_step [--sizes 512,2048,4096] [--iters 10] [--repeats 7] [--peak-gflops 233]
// Each sample runs `iters` iterations from the same start (sigmas 3 and 9, logits 0), swapping
// the state as the runtime's fit does; the table gives the median over repeats, in ns a
// pixel-iteration, the GFLOP/s of the folded algorithm (FLOPs counted below) and that as a
// fraction of the FMA peak, and each variant's ratio to the first. Every variant's final state
// and loss are compared with the first variant's.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "HalideBuffer.h"
#include "definitions.h"
#include "halide_hooks.h"
#include "sigma_step_variants.inc"  // the generated variants' headers and the table `variants`

// Self-contained (the variants, the runtime and the Halide hooks only), so that a change of a
// schedule rebuilds only its variants.
using namespace blurmix;
using Image = Halide::Runtime::Buffer<float, 3>;

namespace {

Image noise(int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g;
    Image im(n, n, 1);
    im.for_each_value([&](float &v) { v = g(rng); });
    return im;
}

// The Gaussian blur with zero padding, in double (the target only).
Image gaussian(const Image &x, double sigma) {
    const int n = x.width(), r = half_width((float)sigma, 2.f);
    std::vector<double> w(2 * r + 1);
    double sum = 0;
    for (int t = -r; t <= r; t++) sum += w[t + r] = std::exp(-t * t / (2 * sigma * sigma));
    for (double &v : w) v /= sum;
    std::vector<double> tmp((size_t)n * n, 0.0);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            for (int t = -r; t <= r; t++)
                if (j + t >= 0 && j + t < n) tmp[(size_t)j * n + i] += w[t + r] * x(i, j + t, 0);
    Image out(n, n, 1);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int t = -r; t <= r; t++)
                if (i + t >= 0 && i + t < n) s += w[t + r] * tmp[(size_t)j * n + i + t];
            out(i, j, 0) = (float)s;
        }
    return out;
}

// The target: the left half blurred at the starting sigma_min, the right half at sigma_max, so
// that the sigmas (and the kernels' widths) stay near where they start.
Image halves_target(const Image &x, double s_min, double s_max) {
    Image a = gaussian(x, s_min), b = gaussian(x, s_max), t(x.width(), x.height(), 1);
    t.for_each_element([&](int i, int j, int c) { t(i, j, c) = i < x.width() / 2 ? a(i, j, c) : b(i, j, c); });
    return t;
}

// FLOPs of one pixel's blur with its sigma derivative at half-width r, folded as
// taps_and_blur.h writes it (a multiply-add counts 2): the vertical pass and its derivative
// 1 + 3r each, the horizontal pass 1 + 3r, the derivative's horizontal pass 3 + 6r.
double blur_flops(int r) { return 6 + 15.0 * r; }

struct Run {
    Image state, next;
    Halide::Runtime::Buffer<float, 2> sigmas, sigmas_next;
    Halide::Runtime::Buffer<float, 0> loss;
    double flops = 0;  // per pixel, over the iterations
};

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"bench_sigma_step: fit_sigma_step's schedule variants, A/B in one run"};
    std::vector<int> sizes = {512, 2048, 4096};
    int iters = 10, repeats = 7;
    double peak = 233;
    app.add_option("--sizes", sizes, "square sizes")->delimiter(',')->check(CLI::Range(16, 16384));
    app.add_option("--iters", iters, "iterations a sample")->check(CLI::Range(1, 1000));
    app.add_option("--repeats", repeats, "samples per variant and size")->check(CLI::Range(1, 1000));
    std::vector<std::string> only;
    app.add_option("--variants", only, "only these variants (names as printed; the first is the reference)")->delimiter(',');
    app.add_option("--peak-gflops", peak,
                   "the FMA peak (default: 2 Zen 4 cores, 3.64 GHz, 2 x 8-lane FMA pipes)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    install_halide_hooks();
    if (!only.empty()) {
        std::vector<SigmaStepVariant> kept;
        for (const std::string &name : only)
            for (const SigmaStepVariant &v : variants)
                if (name == v.name) kept.push_back(v);
        if (kept.size() != only.size()) {
            std::fprintf(stderr, "bench_sigma_step: --variants names one that was not built\n");
            return 2;
        }
        variants = kept;
    }
    const float lr = 0.1f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, std_devs = 2.f, s_min = 3.f, s_max = 9.f;
    std::printf("fit_sigma_step, %d iterations a sample, median of %d, sigmas %g and %g at the start\n", iters,
                repeats, s_min, s_max);
    std::printf("| size | variant | ns / pixel-iteration | GFLOP/s | of FMA peak | vs %s | max rel. diff |\n",
                variants[0].name);
    std::printf("|---|---|---:|---:|---:|---:|---:|\n");
    bool failed = false;
    for (int n : sizes) {
        Image x = noise(n, 1337), target = halves_target(x, s_min, s_max);
        std::vector<Run> runs(variants.size());
        // The buffers are made and reset outside the timed calls.
        auto reset = [&](Run &r) {
            if (r.state.width() != n) {
                r.state = Image(n, n, 3);
                r.next = Image(n, n, 3);
                r.sigmas = Halide::Runtime::Buffer<float, 2>(2, 3);
                r.sigmas_next = Halide::Runtime::Buffer<float, 2>(2, 3);
                r.loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
            }
            r.state.fill(0.f);
            r.next.fill(0.f);
            r.sigmas.fill(0.f);
            r.sigmas(0, 0) = s_min;
            r.sigmas(1, 0) = s_max;
        };
        auto once = [&](size_t v, Run &r, bool count) {
            if (count) r.flops = 0;
            for (int it = 0; it < iters; it++) {
                if (count) {
                    r.flops += blur_flops(half_width(r.sigmas(0, 0), std_devs)) +
                               blur_flops(half_width(r.sigmas(1, 0), std_devs));
                }
                int rc = variants[v].fn(x, target, r.state, r.sigmas(0, 0), r.sigmas(1, 0), r.sigmas, it + 1, lr, beta1,
                                        beta2, eps, std_devs, (int)Boundary::zero, r.next, r.sigmas_next, r.loss);
                if (rc != 0) {
                    std::fprintf(stderr, "%s: %s\n", variants[v].name, take_halide_error(rc).c_str());
                    std::exit(2);
                }
                std::swap(r.state, r.next);
                std::swap(r.sigmas, r.sigmas_next);
            }
        };
        for (size_t v = 0; v < variants.size(); v++) {
            reset(runs[v]);
            once(v, runs[v], true);
        }
        Run scratch;
        // The memory floor, timed among the variants: what an iteration must move at the least,
        // the state read and written (12 + 12 bytes a pixel) and the source and target read
        // (8), by two threads with nothing else to do, `iters` times.
        auto traffic = [&]() {
            double sink[2] = {0, 0};
            auto half = [&](int t) {
                const size_t plane = (size_t)n * n, lo = plane * t / 2, hi = plane * (t + 1) / 2;
                for (int it = 0; it < iters; it++) {
                    const Image &from = it % 2 ? scratch.next : scratch.state;
                    Image &to = it % 2 ? scratch.state : scratch.next;
                    for (int j = 0; j < 3; j++) {
                        std::copy(from.data() + j * plane + lo, from.data() + j * plane + hi, to.data() + j * plane + lo);
                    }
                    float acc = 0;
                    for (size_t i = lo; i < hi; i++) acc += x.data()[i] + target.data()[i];
                    sink[t] += acc;
                }
            };
            std::thread other(half, 1);
            half(0);
            other.join();
            return sink[0] + sink[1];
        };
        std::vector<std::vector<double>> ms(variants.size());
        std::vector<double> floor_ms;
        double sink = 0;
        for (int k = 0; k < repeats; k++) {
            for (size_t v = 0; v < variants.size(); v++) {
                reset(scratch);
                auto t0 = std::chrono::steady_clock::now();
                once(v, scratch, false);
                ms[v].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            }
            auto t0 = std::chrono::steady_clock::now();
            sink += traffic();
            floor_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(floor_ms.begin(), floor_ms.end());
        double base = 0;
        for (size_t v = 0; v < variants.size(); v++) {
            std::sort(ms[v].begin(), ms[v].end());
            const double med = ms[v][ms[v].size() / 2];
            if (v == 0) base = med;
            // The final state against the first variant's, relative to the largest value of each plane.
            double diff = std::abs(runs[v].loss() - runs[0].loss()) / std::abs(runs[0].loss());
            for (int j = 0; j < 3; j++) {
                double scale = 0, d = 0;
                runs[0].state.sliced(2, j).for_each_element([&](int a, int b) {
                    scale = std::max(scale, (double)std::abs(runs[0].state(a, b, j)));
                    d = std::max(d, (double)std::abs(runs[v].state(a, b, j) - runs[0].state(a, b, j)));
                });
                diff = std::max(diff, d / std::max(scale, 1e-30));
            }
            for (int i = 0; i < 2; i++) {
                diff = std::max(diff, (double)std::abs(runs[v].sigmas(i, 0) - runs[0].sigmas(i, 0)) / runs[0].sigmas(i, 0));
            }
            const double px_it = (double)n * n * iters;
            const double gflops = runs[v].flops * n * n / (med * 1e6);
            std::printf("| %dx%d | %s | %.2f | %.1f | %.0f%% | %.3fx | %.1e |%s\n", n, n, variants[v].name,
                        med * 1e6 / px_it, gflops, 100 * gflops / peak, base / med, diff, diff > 1e-4 ? " DIFFERS" : "");
            failed |= diff > 1e-4;
        }
        volatile double kept = sink;  // the floor's reads are used
        (void)kept;
        std::printf("| %dx%d | memory floor (32 bytes a pixel, 2 threads) | %.2f | | | %.3fx | |\n", n, n,
                    floor_ms[floor_ms.size() / 2] * 1e6 / ((double)n * n * iters), base / floor_ms[floor_ms.size() / 2]);
        std::printf("|  | (FLOPs a pixel-iteration: %.0f; final sigmas %.4f, %.4f) | | | | | |\n",
                    runs[0].flops / iters, runs[0].sigmas(0, 0), runs[0].sigmas(1, 0));
        std::fflush(stdout);
    }
    return failed ? 1 : 0;
}
