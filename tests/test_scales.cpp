// The exact local blur against its direct double-precision reference; the K-scale stack's render,
// loss and gradients (with the smoothness penalties) against the reference and central finite
// differences; K = 2 against the seed's min/max method; experiment D's goals.
#include <catch2/catch.hpp>

#include <cstdio>

#include "evaluate.h"
#include "experiments.h"
#include "reference_local.h"
#include "scales.h"
#include "test_util.h"

using blurmix::Boundary;

namespace {

blurmix::Map random_map(int w, int h, float lo, float hi, unsigned seed) {
    blurmix::Image im = test::random_image(w, h, 1, seed);
    blurmix::Map m(w, h);
    m.for_each_element([&](int x, int y) { m(x, y) = lo + (hi - lo) * im(x, y, 0); });
    return m;
}

std::vector<ref::Array> stack_ref(const ref::Array &in, const std::vector<float> &sigmas) {
    std::vector<ref::Array> s;
    for (float sg : sigmas) s.push_back(ref::blur(in, sg));
    return s;
}

double max_abs_diff(const blurmix::Map &a, const blurmix::Map &b) {
    double worst = 0;
    a.for_each_element([&](int x, int y) { worst = std::max(worst, (double)std::abs(a(x, y) - b(x, y))); });
    return worst;
}

}  // namespace

TEST_CASE("local blur matches the direct 2-D reference", "[local]") {
    const std::vector<std::array<int, 3>> sizes = {{1, 1, 1}, {7, 3, 1}, {3, 9, 2}, {33, 21, 3}, {40, 6, 1}};
    for (const blurmix::Variant &v : blurmix::built_variants("local_blur")) {
        if (!test::runs_here(v)) continue;
        for (auto [w, h, c] : sizes) {
            blurmix::Image in = test::random_image(w, h, c, w * 31 + h);
            ref::Array in_ref = ref::from(in);
            for (auto [lo, hi] : {std::pair{0.3f, 1.2f}, std::pair{0.5f, 4.f}, std::pair{2.f, 6.5f}}) {
                blurmix::Map sigma = random_map(w, h, lo, hi, w + h + (unsigned)(10 * hi));
                for (Boundary b : {Boundary::zero, Boundary::clamp, Boundary::mirror}) {
                    for (float sd : {2.f, 3.f}) {
                        INFO(blurmix::to_string(v) << " " << w << "x" << h << "x" << c << " sigma " << lo << ".." << hi
                                                   << " std_devs " << sd << " " << blurmix::boundary_name(b));
                        blurmix::Image out = blurmix::local_blur(in, sigma, {sd, b, v});
                        CHECK(test::max_abs_diff(out, ref::local_blur(in_ref, ref::grid(sigma), sd, b)) < 4e-6);
                    }
                }
            }
        }
    }
}

TEST_CASE("local blur with a constant map is the separable blur, and its radius is the largest sigma's", "[local]") {
    blurmix::Image in = test::random_image(50, 37, 2, 4);
    for (float s : {0.7f, 2.5f, 6.f}) {
        blurmix::Map sigma(50, 37);
        sigma.fill(s);
        CHECK(test::max_abs_diff(blurmix::local_blur(in, sigma), blurmix::blur(in, s)) < 3e-6);
    }
    // One pixel with a large sigma widens every pixel's kernel: a sigma-1 pixel far from it is
    // then not the separable blur with its own (radius 2) kernel, but the reference with R = 10.
    blurmix::Map sigma(50, 37);
    sigma.fill(1.f);
    sigma(0, 0) = 5.f;
    blurmix::Image out = blurmix::local_blur(in, sigma);
    ref::Array expect = ref::local_blur(ref::from(in), ref::grid(sigma));
    CHECK(test::max_abs_diff(out, expect) < 3e-6);
    CHECK(std::abs(out(25, 18, 0) - blurmix::blur(in, 1.f)(25, 18, 0)) > 1e-4);
}

TEST_CASE("bad sigma maps are refused with a message", "[local]") {
    blurmix::Image in = test::random_image(8, 6, 1, 1);
    blurmix::Map wrong(6, 8);
    wrong.fill(1.f);
    CHECK_THROWS_WITH(blurmix::local_blur(in, wrong), Catch::Contains("sigma map is 6x8 but the image is 8x6"));
    blurmix::Map bad(8, 6);
    bad.fill(1.f);
    bad(3, 2) = 0.f;
    CHECK_THROWS_WITH(blurmix::local_blur(in, bad), Catch::Contains("row 2, column 3"));
    bad(3, 2) = std::nanf("");
    CHECK_THROWS_WITH(blurmix::local_blur(in, bad), Catch::Contains("sigma must be a number in (0, 1000]"));
    blurmix::Map flat(8, 6);
    flat.fill(2.f);
    CHECK_THROWS_WITH(blurmix::scale_blur(in, flat, 4, blurmix::Spacing::even), Catch::Contains("constant"));
}

TEST_CASE("scale sigmas are spaced evenly or geometrically, and bad ranges are refused", "[scales]") {
    auto e = blurmix::scale_sigmas(3, 9, 4, blurmix::Spacing::even);
    CHECK(e == std::vector<float>{3, 5, 7, 9});
    auto g = blurmix::scale_sigmas(2, 16, 4, blurmix::Spacing::geometric);
    REQUIRE(g.size() == 4);
    CHECK(g[1] == Approx(4));
    CHECK(g[2] == Approx(8));
    CHECK(g[3] == 16);
    CHECK_THROWS_WITH(blurmix::scale_sigmas(3, 9, 1, blurmix::Spacing::even), Catch::Contains("scales must be from 2"));
    CHECK_THROWS_WITH(blurmix::scale_sigmas(9, 3, 4, blurmix::Spacing::even), Catch::Contains("must be smaller"));
    CHECK_THROWS_WITH(blurmix::parse_spacing("log"), Catch::Contains("unknown spacing 'log'"));
    CHECK_THROWS_WITH(blurmix::parse_penalty("l1"), Catch::Contains("unknown smoothness 'l1'"));
}

TEST_CASE("a sigma map goes to scale parameters and back", "[scales]") {
    for (auto sp : {blurmix::Spacing::even, blurmix::Spacing::geometric}) {
        for (int K : {2, 3, 7}) {
            auto sigmas = blurmix::scale_sigmas(1.5f, 8.f, K, sp);
            blurmix::Map sigma = random_map(30, 20, 1.5f, 8.f, 9);
            sigma(0, 0) = 1.5f;  // the ends
            sigma(1, 0) = 8.f;
            sigma(2, 0) = sigmas[K / 2];  // a scale itself
            blurmix::Map back = blurmix::sigma_of_scale_params(blurmix::scale_params_of(sigma, sigmas), sigmas);
            INFO("K " << K << " " << blurmix::spacing_name(sp));
            CHECK(max_abs_diff(sigma, back) < 2e-5);
        }
    }
}

TEST_CASE("the K-scale render matches the reference, and renders a sigma map", "[scales]") {
    blurmix::Image in = test::random_image(41, 27, 2, 14);
    ref::Array in_ref = ref::from(in);
    for (int K : {2, 3, 7}) {
        auto sigmas = blurmix::scale_sigmas(1.f, 6.f, K, blurmix::Spacing::geometric);
        blurmix::Stack stack = blurmix::scale_stack(in, sigmas);
        blurmix::Map z = random_map(41, 27, -4.f, 4.f, 15);
        INFO("K " << K);
        CHECK(test::max_abs_diff(blurmix::scale_mix(stack, z), ref::scale_mix(stack_ref(in_ref, sigmas), ref::grid(z))) < 2e-6);
    }
    // scale_blur: the stack spans the map's range; each pixel the two scales around its sigma.
    blurmix::Map sigma = random_map(41, 27, 1.f, 6.f, 16);
    sigma(0, 0) = 1.f;
    sigma(1, 0) = 6.f;
    auto sigmas = blurmix::scale_sigmas(1.f, 6.f, 5, blurmix::Spacing::even);
    blurmix::Image out = blurmix::scale_blur(in, sigma, 5, blurmix::Spacing::even);
    ref::Array expect = ref::scale_mix(stack_ref(in_ref, sigmas), ref::grid(blurmix::scale_params_of(sigma, sigmas)));
    CHECK(test::max_abs_diff(out, expect) < 2e-6);
}

TEST_CASE("with two scales the stack is the seed's min/max mix", "[scales]") {
    blurmix::Image src = test::random_image(37, 23, 3, 40), target = test::random_image(37, 23, 3, 41);
    blurmix::Image a = blurmix::blur(src, 2.f), b = blurmix::blur(src, 5.f);
    blurmix::Stack stack = blurmix::scale_stack(src, {2.f, 5.f});
    blurmix::Map z = random_map(37, 23, -3.f, 3.f, 42);
    CHECK(test::max_abs_diff(blurmix::scale_mix(stack, z), blurmix::mix(a, b, z)) < 1e-6);
    blurmix::Gradient g = blurmix::mix_gradient(a, b, z, target);
    blurmix::ScaleGradient s = blurmix::scale_mix_gradient(stack, z, target);
    CHECK(s.loss == Approx(g.loss).epsilon(1e-6));
    CHECK(s.penalty == 0.f);
    double worst = 0, scale = 0;
    z.for_each_element([&](int x, int y) {
        worst = std::max(worst, (double)std::abs(s.d_z(x, y) - g.d_logit(x, y)));
        scale = std::max(scale, (double)std::abs(g.d_logit(x, y)));
    });
    CHECK(scale > 0);
    CHECK(worst < 1e-5 * scale);

    // The whole fit: the seed's experiment C, by fit() and by fit_scales with K = 2.
    blurmix::Image signal = blurmix::seed_signal();
    blurmix::FitOptions recorded;
    recorded.loss_at = {1, 10, 500};
    blurmix::ExperimentC c = blurmix::experiment_c(signal, recorded);
    blurmix::FitOptions opt;
    opt.sigma_min = 3.f;
    opt.sigma_max = 9.f;
    opt.loss_at = recorded.loss_at;
    for (bool fused : {true, false}) {
        opt.fused = fused;
        blurmix::FitResult k2 = blurmix::fit_scales(signal, c.target, opt, {2, blurmix::Spacing::geometric, {}});
        INFO((fused ? "fused" : "step by step"));
        // The fused fit records the reported iterations and loss_at; the step-by-step loop all.
        CHECK(k2.losses.size() == (fused ? 13u : 1000u));
        CHECK(k2.iterations == 1000);
        for (int i : {0, 1, 10, 100, 500, 999}) {
            INFO("iteration " << i);
            CHECK(blurmix::loss_at(k2, i) == Approx(blurmix::loss_at(c.fit, i)).epsilon(1e-3));
        }
        CHECK(max_abs_diff(k2.sigma, c.fit.sigma) < 2e-3);
        CHECK(max_abs_diff(blurmix::weights_of(k2.params), c.fit.weights) < 2e-4);
    }
}

TEST_CASE("the fused stack fit follows the step-by-step fit", "[scales][fused]") {
    // Non-square, one and three channels, K = 2, 4, 7 and 10 (past the segment select chain),
    // without a penalty and with TV or the quadratic one for the first 70 iterations (neither a
    // report nor a multiple of the smooth calls' length). The target is a local blur plus noise
    // that no scale map explains, so that the loss stays well above float rounding.
    struct Case {
        int w, h, c;
    };
    for (Case im : {Case{41, 23, 1}, Case{19, 30, 3}}) {
        blurmix::Image src = test::random_image(im.w, im.h, im.c, 100 + im.c);
        blurmix::Map sigma(im.w, im.h);
        sigma.for_each_element([&](int x, int y) { sigma(x, y) = 1.5f + 3.f * (x + 0.5f * y) / (im.w + 0.5f * im.h); });
        blurmix::Image target = blurmix::local_blur(src, sigma);
        blurmix::Image noise = test::random_image(im.w, im.h, im.c, 200 + im.c);
        target.for_each_value([](float &t, float n) { t += 0.2f * (n - 0.5f); }, noise);
        for (int K : {2, 4, 7, 10}) {
            for (auto kind : {blurmix::Penalty::none, blurmix::Penalty::tv, blurmix::Penalty::quadratic}) {
                blurmix::FitOptions opt;
                opt.sigma_min = 1.f;
                opt.sigma_max = 5.f;
                opt.iters = 200;
                opt.report_every = 25;
                opt.loss_at = {3, 69, 70, 71};
                opt.adamax.lr = blurmix::kScaleFitLr;
                blurmix::ScaleOptions so{K, blurmix::Spacing::geometric, {kind, 3e-3f}};
                so.smooth_iters = 70;
                blurmix::FitResult fused = blurmix::fit_scales(src, target, opt, so);
                opt.fused = false;
                blurmix::FitResult steps = blurmix::fit_scales(src, target, opt, so);
                INFO(im.w << "x" << im.h << "x" << im.c << " K " << K << " penalty " << blurmix::penalty_name(kind));
                REQUIRE(fused.losses.size() == 13);  // 0, 25, ..., 175, 199 and loss_at
                REQUIRE(steps.losses.size() == 200);
                CHECK(fused.iterations == 200);
                // The fused steps compute sigmoid with Halide's fast_exp; the step-by-step loop
                // with exp. Smooth dynamics keep the two trajectories together; TV's gradient
                // turns over within 1e-3 of each zero difference and lets them part a little.
                const double tol = kind == blurmix::Penalty::tv ? 1e-2 : 1e-4;
                for (const blurmix::LossPoint &p : fused.losses) {
                    INFO("iteration " << p.iteration);
                    CHECK(p.loss == Approx(blurmix::loss_at(steps, p.iteration)).epsilon(tol));
                }
                CHECK(fused.losses.back().loss == Approx(steps.losses.back().loss).epsilon(1e-2));
                // The fit has moved, and the penalty was there until iteration 70.
                CHECK(fused.losses.back().loss < 0.8f * fused.losses.front().loss);
                if (kind != blurmix::Penalty::none) {
                    CHECK(blurmix::loss_at(fused, 69) - blurmix::loss_at(fused, 70) > 1e-6);
                }
                // The recovered maps: the same, but with TV a few pixels that end up in another
                // of their own loss's minima.
                double sum = 0;
                int apart = 0;
                fused.sigma.for_each_element([&](int x, int y) {
                    const double d = std::abs(fused.sigma(x, y) - steps.sigma(x, y));
                    sum += d;
                    apart += d > 0.1;
                });
                const int n = im.w * im.h;
                INFO("sigma: mean difference " << sum / n << ", largest " << max_abs_diff(fused.sigma, steps.sigma)
                                               << ", " << apart << " pixels apart by more than 0.1");
                if (kind == blurmix::Penalty::tv) {
                    CHECK(sum / n < 0.02);
                    CHECK(apart < 0.03 * n);
                    CHECK(test::max_abs_diff(fused.fitted, steps.fitted) < 0.1);
                } else {
                    CHECK(sum / n < 1e-3);
                    CHECK(max_abs_diff(fused.sigma, steps.sigma) < 0.1);
                    CHECK(test::max_abs_diff(fused.fitted, steps.fitted) < 0.01);
                }
            }
        }
    }
}

TEST_CASE("fused stack fits stop where asked and keep their snapshots", "[scales][fused]") {
    blurmix::Image src = test::random_image(20, 16, 1, 110), target = blurmix::blur(src, 2.5f);
    blurmix::FitOptions opt;
    opt.sigma_min = 1.f;
    opt.sigma_max = 4.f;
    opt.iters = 60;
    opt.snapshots = {0, 13, 59};
    int calls = 0;
    opt.should_stop = [&calls] { return ++calls >= 2; };  // asked at each run's start but the first
    blurmix::ScaleOptions so{5, blurmix::Spacing::even, {}};
    blurmix::FitResult r = blurmix::fit_scales(src, target, opt, so);
    // Without a penalty the runs are cut at the recorded iterations only: they start at 0, 13
    // (a snapshot) and 59 (a snapshot, the last), and the second question stops the fit at 59.
    CHECK(r.iterations == 59);
    REQUIRE(r.snapshots.size() == 2);
    CHECK(r.snapshots[1].first == 13);
    so.smooth = {blurmix::Penalty::tv, 1e-3f};
    so.smooth_iters = 20;
    opt.should_stop = nullptr;
    opt.fused = false;
    blurmix::FitResult steps = blurmix::fit_scales(src, target, opt, so);
    opt.fused = true;
    blurmix::FitResult fused = blurmix::fit_scales(src, target, opt, so);
    REQUIRE(fused.snapshots.size() == 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK(fused.snapshots[i].first == steps.snapshots[i].first);
        CHECK(max_abs_diff(fused.snapshots[i].second, steps.snapshots[i].second) < 1e-3);
    }
}

TEST_CASE("every built variant of the stack's fused fit matches the manual CPU one", "[scales][fused]") {
    const int w = 37, h = 21;
    blurmix::Image src = test::random_image(w, h, 2, 120), target = test::random_image(w, h, 2, 121);
    int checked = 0;
    for (const blurmix::Variant &v : blurmix::built_variants("scale_steps")) {
        if (!test::runs_here(v)) continue;
        for (int K : {3, 7, 10}) {
            blurmix::FitOptions opt;
            opt.sigma_min = 1.f;
            opt.sigma_max = 5.f;
            opt.iters = 30;
            opt.report_every = 5;
            // The quadratic penalty: TV's turn within 1e-3 of a zero difference would magnify
            // the variants' rounding differences (the fused fit's test shows how far).
            blurmix::ScaleOptions so{K, blurmix::Spacing::geometric, {blurmix::Penalty::quadratic, 1e-2f}};
            so.smooth_iters = 13;
            blurmix::FitResult want = blurmix::fit_scales(src, target, opt, so);
            opt.blur.variant = v;
            blurmix::FitResult got = blurmix::fit_scales(src, target, opt, so);
            INFO(blurmix::to_string(v) << " K " << K);
            REQUIRE(got.losses.size() == want.losses.size());
            for (size_t i = 0; i < got.losses.size(); i++) {
                CHECK(got.losses[i].loss == Approx(want.losses[i].loss).epsilon(1e-5));
            }
            CHECK(max_abs_diff(got.params, want.params) < 1e-3);  // a step moves z by up to lr = 0.1
            checked++;
        }
    }
    CHECK(checked >= 3);  // the manual CPU one itself at least (a sanitizer build has no other)
}

TEST_CASE("loss, penalty and d / dz match central differences of the reference", "[scales][gradient]") {
    const int w = 17, h = 13;
    blurmix::Image src = test::random_image(w, h, 2, 50), target = test::random_image(w, h, 2, 51);
    ref::Array src_ref = ref::from(src), target_ref = ref::from(target);
    for (int K : {2, 4, 7}) {
        auto sigmas = blurmix::scale_sigmas(1.2f, 5.f, K, blurmix::Spacing::geometric);
        blurmix::Stack stack = blurmix::scale_stack(src, sigmas);
        std::vector<ref::Array> st = stack_ref(src_ref, sigmas);
        blurmix::Map z = random_map(w, h, -3.f, 3.f, 52 + K);
        for (auto [kind, lambda] : {std::pair{blurmix::Penalty::none, 0.f}, std::pair{blurmix::Penalty::tv, 0.01f},
                                    std::pair{blurmix::Penalty::quadratic, 0.05f}}) {
            auto objective = [&, kind = kind, lambda = lambda](const ref::Grid &zg) {
                return ref::mse(ref::scale_mix(st, zg), target_ref) + ref::penalty(zg, (int)kind, lambda);
            };
            blurmix::ScaleGradient g = blurmix::scale_mix_gradient(stack, z, target, {kind, lambda});
            ref::Grid zg = ref::grid(z);
            INFO("K " << K << " penalty " << blurmix::penalty_name(kind));
            CHECK(g.loss == Approx(ref::mse(ref::scale_mix(st, zg), target_ref)).epsilon(1e-5));
            CHECK(g.penalty == Approx(ref::penalty(zg, (int)kind, lambda)).epsilon(1e-4).margin(1e-9));
            const double step = 1e-5;
            double worst = 0, scale = 0;
            int kinks = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    // A difference straddling a scale boundary measures neither side's slope.
                    ref::Position lo = ref::position(zg(x, y) + step, K), hi = ref::position(zg(x, y) - step, K);
                    if (lo.i != hi.i) {
                        kinks++;
                        continue;
                    }
                    ref::Grid up = zg, down = zg;
                    up(x, y) += step;
                    down(x, y) -= step;
                    const double fd = (objective(up) - objective(down)) / (2 * step);
                    worst = std::max(worst, std::abs(fd - g.d_z(x, y)));
                    scale = std::max(scale, std::abs(fd));
                }
            INFO("scale " << scale << " worst " << worst << " kinks " << kinks);
            CHECK(kinks < 3);
            CHECK(scale > 1e-6);
            CHECK(worst < 2e-3 * scale);
        }
    }
}

TEST_CASE("the penalty's gradient alone matches central differences", "[scales][gradient]") {
    // The target is the render itself, so the data term and its gradient are 0 and d_z is the
    // penalty's alone.
    const int w = 12, h = 9;
    blurmix::Image src = test::random_image(w, h, 1, 60);
    auto sigmas = blurmix::scale_sigmas(1.f, 4.f, 5, blurmix::Spacing::even);
    blurmix::Stack stack = blurmix::scale_stack(src, sigmas);
    blurmix::Map z = random_map(w, h, -2.f, 2.f, 61);
    z(3, 3) = z(4, 3);  // a zero difference, where TV is rounded
    blurmix::Image target = blurmix::scale_mix(stack, z);
    ref::Grid zg = ref::grid(z);
    for (auto kind : {blurmix::Penalty::tv, blurmix::Penalty::quadratic}) {
        blurmix::ScaleGradient g = blurmix::scale_mix_gradient(stack, z, target, {kind, 1.f});
        CHECK(g.loss < 1e-12);
        double worst = 0, scale = 0;
        const double step = 1e-6;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                ref::Grid up = zg, down = zg;
                up(x, y) += step;
                down(x, y) -= step;
                const double fd = (ref::penalty(up, (int)kind, 1) - ref::penalty(down, (int)kind, 1)) / (2 * step);
                worst = std::max(worst, std::abs(fd - g.d_z(x, y)));
                scale = std::max(scale, std::abs(fd));
            }
        INFO(blurmix::penalty_name(kind) << " scale " << scale << " worst " << worst);
        CHECK(scale > 1e-3);
        CHECK(worst < 1e-3 * scale);
    }
}

TEST_CASE("bad scale fits are refused with a message", "[scales]") {
    blurmix::Image src = test::random_image(8, 8, 1, 70);
    blurmix::FitOptions opt;
    opt.mode = blurmix::Mode::global;
    CHECK_THROWS_WITH(blurmix::fit_scales(src, src, opt, {}), Catch::Contains("--mode local"));
    opt.mode = blurmix::Mode::local;
    opt.learn_sigmas = true;
    CHECK_THROWS_WITH(blurmix::fit_scales(src, src, opt, {}), Catch::Contains("--learn-sigmas"));
    opt.learn_sigmas = false;
    CHECK_THROWS_WITH(blurmix::fit_scales(src, src, opt, {1, blurmix::Spacing::even, {}}), Catch::Contains("scales must be"));
    CHECK_THROWS_WITH(blurmix::fit_scales(src, src, opt, {4, blurmix::Spacing::even, {blurmix::Penalty::tv, -1.f}}),
                      Catch::Contains("smooth must be"));
}

TEST_CASE("smoothness makes the fitted map smoother", "[scales]") {
    blurmix::Image signal = blurmix::seed_signal();
    blurmix::FitOptions opt;
    opt.sigma_min = 3.f;
    opt.sigma_max = 9.f;
    opt.iters = 300;
    blurmix::Image target = blurmix::local_blur(signal, blurmix::experiment_d_sigma(64, 64));
    auto tv = [](const blurmix::Map &m) {
        double s = 0;
        m.for_each_element([&](int x, int y) {
            if (x + 1 < m.width()) s += std::abs(m(x + 1, y) - m(x, y));
            if (y + 1 < m.height()) s += std::abs(m(x, y + 1) - m(x, y));
        });
        return s;
    };
    blurmix::FitResult plain = blurmix::fit_scales(signal, target, opt, {7, blurmix::Spacing::geometric, {}});
    blurmix::FitResult smooth =
        blurmix::fit_scales(signal, target, opt, {7, blurmix::Spacing::geometric, {blurmix::Penalty::tv, 1e-4f}});
    INFO("TV plain " << tv(plain.sigma) << " smooth " << tv(smooth.sigma));
    CHECK(tv(smooth.sigma) < 0.7 * tv(plain.sigma));
}

TEST_CASE("experiment D: a 7-scale stack recovers the true local blur", "[scales][experiments]") {
    blurmix::Evaluation ev = blurmix::experiment_d(blurmix::seed_signal(), {});
    REQUIRE(ev.methods.size() == 3);
    const blurmix::MethodReport &mm = ev.methods[0], &k4 = ev.methods[1], &k7 = ev.methods[2];
    for (const auto &m : ev.methods) {
        REQUIRE(m.regions.size() == 2);
        std::printf("experiment D %-8s mse %.4g  sigma left %.3f (mae %.3f)  right %.3f (mae %.3f)\n", m.name.c_str(),
                    m.mse, m.regions[0].mean, m.regions[0].mae, m.regions[1].mean, m.regions[1].mae);
    }
    CHECK(k7.regions[0].sigma == 4.f);
    CHECK(k7.regions[0].mean == Approx(4).margin(0.25));
    CHECK(k7.regions[1].sigma == 7.f);
    CHECK(k7.regions[1].mean == Approx(7).margin(0.25));
    CHECK(mm.mse > 8 * k7.mse);
    CHECK(mm.mse > k4.mse);
    CHECK(k4.mse > k7.mse);
    // min/max is the seed's case C over again: it cannot reach 4 from 3 and 9.
    CHECK(std::abs(mm.regions[0].mean - 4) > 0.5);
}

TEST_CASE("every built variant of the stack's render and gradient matches the reference", "[scales]") {
    const int w = 29, h = 11;
    blurmix::Image src = test::random_image(w, h, 3, 80), target = test::random_image(w, h, 3, 81);
    auto sigmas = blurmix::scale_sigmas(1.f, 5.f, 5, blurmix::Spacing::even);
    blurmix::Stack stack = blurmix::scale_stack(src, sigmas);
    std::vector<ref::Array> st = stack_ref(ref::from(src), sigmas);
    blurmix::Map z = random_map(w, h, -3.f, 3.f, 82);
    ref::Grid zg = ref::grid(z);
    blurmix::ScaleGradient expect = blurmix::scale_mix_gradient(stack, z, target, {blurmix::Penalty::tv, 0.1f});
    for (const blurmix::Variant &v : blurmix::built_variants("scale_mix_gradient")) {
        if (!test::runs_here(v)) continue;
        INFO(blurmix::to_string(v));
        CHECK(test::max_abs_diff(blurmix::scale_mix(stack, z, v), ref::scale_mix(st, zg)) < 2e-6);
        blurmix::ScaleGradient g = blurmix::scale_mix_gradient(stack, z, target, {blurmix::Penalty::tv, 0.1f}, v);
        CHECK(g.loss == Approx(ref::mse(ref::scale_mix(st, zg), ref::from(target))).epsilon(1e-5));
        CHECK(g.penalty == Approx(ref::penalty(zg, 1, 0.1)).epsilon(1e-4));
        CHECK(max_abs_diff(g.d_z, expect.d_z) < 1e-6);
    }
}

TEST_CASE("the stack's fit walks across scale boundaries", "[scales]") {
    // Every pixel starts between scales 0 and 1 and its target is between scales 5 and 6: five
    // boundaries to cross, with the gradient's size changing at each. A pixel's own loss has a
    // local minimum wherever its value is not monotone along the stack (about half the pixels of
    // a noise image here), and more than one root if it is not monotone past the target: those
    // may stop elsewhere, as any descent would. The others must arrive: the boundaries themselves
    // do not stop them.
    const int w = 48, h = 40, K = 7;
    blurmix::Image src = test::random_image(w, h, 1, 90);
    auto sigmas = blurmix::scale_sigmas(1.f, 7.f, K, blurmix::Spacing::geometric);
    blurmix::Stack stack = blurmix::scale_stack(src, sigmas);
    auto z_of_u = [&](float u) {
        blurmix::Map z(w, h);
        z.fill(std::log(1.f - u / (K - 1)) - std::log(u / (K - 1)));
        return z;
    };
    blurmix::Image target = blurmix::scale_mix(stack, z_of_u(5.5f));
    blurmix::FitOptions opt;
    opt.sigma_min = 1.f;
    opt.sigma_max = 7.f;
    opt.adamax.lr = blurmix::kScaleFitLr;
    // Slow near the target: Adamax scales each step by the largest gradient seen, from far away.
    opt.iters = 3000;
    blurmix::ScaleOptions so{K, blurmix::Spacing::geometric, {}};
    so.initial = z_of_u(0.5f);
    blurmix::FitResult r = blurmix::fit_scales(src, target, opt, so);
    blurmix::Map u = blurmix::scale_position_of(r.params, K);
    int monotone = 0, arrived = 0;
    u.for_each_element([&](int x, int y) {
        const float need = target(x, y, 0) - stack(x, y, 0, 0);
        bool ok = true;
        for (int k = 0; k < K - 1; k++) ok = ok && (stack(x, y, 0, k + 1) - stack(x, y, 0, k)) * need > 0;
        if (!ok) return;
        monotone++;
        arrived += std::abs(u(x, y) - 5.5f) < 0.1f;
    });
    INFO("monotone " << monotone << " arrived " << arrived << " of " << w * h);
    CHECK(monotone > 0.3 * w * h);
    CHECK(arrived > 0.95 * monotone);
}
