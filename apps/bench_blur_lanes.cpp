// bench_blur_lanes: the blur's CPU schedule with its horizontal pass in vectors of each width
// built (the blur generator's h_lanes), reading per-row padded copies of the vertical pass or
// not (ext_copies; "_ext" in BLURMIX_BLUR_LANES), timed in one run, interleaved.
//   bench_blur_lanes [--sizes 2048,8192] [--sigmas 1,3,9] [--repeats 9]
// Median of repeats of one call each (after a warm-up), GFLOP/s of the folded algorithm
// (2 + 6r FLOPs a pixel), the ratio to the first variant, and the largest difference from it.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "HalideBuffer.h"
#include "definitions.h"
#include "halide_hooks.h"
#include "blur_lanes_variants.inc"  // the generated variants' headers and the table `variants`

using namespace blurmix;
using Image = Halide::Runtime::Buffer<float, 3>;

int main(int argc, char **argv) {
    CLI::App app{"bench_blur_lanes: the blur's horizontal vector width, A/B in one run"};
    std::vector<int> sizes = {2048, 8192};
    std::vector<float> sigmas = {1, 3, 9};
    int repeats = 9;
    double peak = 233;
    app.add_option("--sizes", sizes, "square sizes")->delimiter(',')->check(CLI::Range(16, 16384));
    app.add_option("--sigmas", sigmas, "sigmas")->delimiter(',');
    app.add_option("--repeats", repeats, "calls per variant and case")->check(CLI::Range(1, 1000));
    app.add_option("--peak-gflops", peak, "the FMA peak")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    install_halide_hooks();
    const float std_devs = 2.f;
    std::printf("| size | sigma | variant | ms | GFLOP/s | of FMA peak | vs %s | max abs. diff |\n", variants[0].name);
    std::printf("|---|---:|---|---:|---:|---:|---:|---:|\n");
    for (int n : sizes) {
        Image x(n, n, 1);
        std::mt19937 rng(7);
        std::normal_distribution<float> g;
        x.for_each_value([&](float &v) { v = g(rng); });
        std::vector<Image> outs;
        for (size_t v = 0; v < variants.size(); v++) outs.emplace_back(n, n, 1);
        for (float sigma : sigmas) {
            std::vector<std::vector<double>> ms(variants.size());
            for (int k = -1; k < repeats; k++) {
                for (size_t v = 0; v < variants.size(); v++) {
                    auto t0 = std::chrono::steady_clock::now();
                    int rc = variants[v].fn(x, sigma, std_devs, (int)Boundary::zero, outs[v]);
                    const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
                    if (rc != 0) {
                        std::fprintf(stderr, "%s: %s\n", variants[v].name, take_halide_error(rc).c_str());
                        return 2;
                    }
                    if (k >= 0) ms[v].push_back(t);
                }
            }
            const int r = half_width(sigma, std_devs);
            double base = 0;
            for (size_t v = 0; v < variants.size(); v++) {
                std::sort(ms[v].begin(), ms[v].end());
                const double med = ms[v][ms[v].size() / 2];
                if (v == 0) base = med;
                double diff = 0;
                outs[v].for_each_element([&](int i, int j, int c) {
                    diff = std::max(diff, (double)std::abs(outs[v](i, j, c) - outs[0](i, j, c)));
                });
                const double gflops = (2.0 + 6.0 * r) * n * n / (med * 1e6);
                std::printf("| %dx%d | %g | %s | %.3f | %.1f | %.0f%% | %.3fx | %.1e |\n", n, n, sigma, variants[v].name, med,
                            gflops, 100 * gflops / peak, base / med, diff);
            }
            std::fflush(stdout);
        }
    }
    return 0;
}
