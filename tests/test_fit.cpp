// The fit: the fused pipelines against the step-by-step loop, progress reports, and learned
// sigmas moving toward the ones that made the target.
#include <catch2/catch.hpp>

#include <tuple>

#include "blurmix.h"
#include "test_util.h"

namespace {

blurmix::Image left_right_target(const blurmix::Image &src, float left, float right) {
    blurmix::Map mask(src.width(), src.height());
    mask.for_each_element([&](int x, int y) { mask(x, y) = x < src.width() / 2 ? 1.f : 0.f; });
    return blurmix::mix(blurmix::blur(src, left), blurmix::blur(src, right), blurmix::logits_of(mask));
}

}  // namespace

TEST_CASE("fused and step-by-step fits agree", "[fit]") {
    for (int channels : {1, 3}) {
        for (blurmix::Mode mode : {blurmix::Mode::local, blurmix::Mode::global}) {
            blurmix::Image src = test::random_image(45, 38, channels, 40 + channels);
            blurmix::Image target = left_right_target(src, 2.f, 4.f);
            blurmix::FitOptions opt;
            opt.mode = mode;
            opt.sigma_min = 1.5f;
            opt.sigma_max = 5.f;
            opt.iters = 300;
            opt.report_every = 50;
            opt.loss_at = {1, 2, 3, 7, 150};
            opt.fused = true;
            blurmix::FitResult fused = blurmix::fit(src, target, opt);
            opt.fused = false;
            blurmix::FitResult step = blurmix::fit(src, target, opt);
            INFO("channels " << channels << (mode == blurmix::Mode::local ? " local" : " global"));
            REQUIRE(step.losses.size() == 300);
            for (const blurmix::LossPoint &p : fused.losses) {
                INFO("iteration " << p.iteration);
                CHECK(p.loss == Approx(blurmix::loss_at(step, p.iteration)).epsilon(2e-3));
            }
            for (int it : {0, 1, 2, 3, 7, 50, 100, 150, 250, 299}) CHECK_NOTHROW(blurmix::loss_at(fused, it));
            // One global weight cannot split the halves; a weight per pixel can.
            const float drop = mode == blurmix::Mode::local ? 0.1f : 1.f;
            CHECK(fused.losses.back().loss < drop * fused.losses.front().loss);
            double worst = 0;
            fused.weights.for_each_element([&](int x, int y) {
                worst = std::max(worst, (double)std::abs(fused.weights(x, y) - step.weights(x, y)));
            });
            CHECK(worst < 2e-3);
            CHECK(test::max_abs_diff(fused.fitted, step.fitted) < 1e-3);
        }
    }
}

TEST_CASE("progress is reported every report_every iterations and at the last", "[fit]") {
    blurmix::Image src = test::random_image(20, 20, 1, 3);
    blurmix::Image target = blurmix::blur(src, 2.f);
    for (bool fused : {true, false}) {
        blurmix::FitOptions opt;
        opt.sigma_min = 1.f;
        opt.sigma_max = 3.f;
        opt.iters = 250;
        opt.fused = fused;
        std::vector<int> seen;
        opt.progress = [&](const blurmix::FitProgress &p) {
            seen.push_back(p.iteration);
            CHECK(std::isfinite(p.loss));
        };
        blurmix::fit(src, target, opt);
        CHECK(seen == std::vector<int>{0, 100, 200, 249});
    }
}

TEST_CASE("fused and step-by-step fits with learned sigmas agree", "[fit]") {
    // The second image's rows span several of the horizontal kernel's groups (and a last one
    // shifted inwards); its sigmas give blocks of taps and a shorter last block.
    for (auto [w, h, c, s_min, s_max] : {std::tuple{33, 27, 2, 3.f, 4.5f}, std::tuple{130, 20, 1, 3.f, 9.f}}) {
        INFO(w << "x" << h << "x" << c);
        blurmix::Image src = test::random_image(w, h, c, 78);
        blurmix::Image target = left_right_target(src, 2.f, 6.f);
        blurmix::FitOptions opt;
        opt.sigma_min = s_min;
        opt.sigma_max = s_max;
        opt.iters = 60;
        opt.learn_sigmas = true;
        for (blurmix::Boundary bd : {blurmix::Boundary::zero, blurmix::Boundary::mirror}) {
            opt.blur.boundary = bd;
            opt.fused = true;
            blurmix::FitResult fused = blurmix::fit(src, target, opt);
            opt.fused = false;
            blurmix::FitResult step = blurmix::fit(src, target, opt);
            INFO("boundary " << blurmix::boundary_name(bd));
            REQUIRE(fused.losses.size() == 60);
            REQUIRE(step.losses.size() == 60);
            for (int it = 0; it < 60; it++) {
                INFO("iteration " << it);
                CHECK(fused.losses[it].loss == Approx(step.losses[it].loss).epsilon(2e-3));
            }
            CHECK(fused.sigma_min == Approx(step.sigma_min).epsilon(1e-3));
            CHECK(fused.sigma_max == Approx(step.sigma_max).epsilon(1e-3));
            CHECK(fused.sigma_min < opt.sigma_min - 0.3f);  // moved
            CHECK(test::max_abs_diff(fused.fitted, step.fitted) < 1e-3);
        }
    }
}

TEST_CASE("learned sigmas move toward the sigmas that made the target", "[fit]") {
    blurmix::Image src = test::random_image(64, 48, 1, 77);
    blurmix::Image target = left_right_target(src, 2.f, 6.f);
    for (bool fused : {true, false}) {
    INFO((fused ? "fused" : "step by step"));
    blurmix::FitOptions opt;
    opt.fused = fused;
    opt.sigma_min = 3.f;
    opt.sigma_max = 4.5f;
    opt.iters = 300;
    opt.learn_sigmas = true;
    blurmix::FitResult r = blurmix::fit(src, target, opt);
    INFO("learned " << r.sigma_min << " " << r.sigma_max);
    CHECK(r.sigma_min < 2.5f);
    CHECK(r.sigma_min > 1.5f);
    CHECK(r.sigma_max > 5.5f);
    CHECK(r.sigma_max < 6.5f);
    // With the bounds found, the weights split the halves.
    double left = 0, right = 0;
    r.weights.for_each_element([&](int x, int y) { (x < 32 ? left : right) += r.weights(x, y); });
    CHECK(left / (32 * 48) > 0.8);
    CHECK(right / (32 * 48) < 0.2);
    CHECK(r.losses.back().loss < 0.05f * r.losses.front().loss);
    }
}

TEST_CASE("a diverging fit stops with a message", "[fit]") {
    blurmix::Image src = test::random_image(16, 16, 1, 5);
    blurmix::Image target = src.copy();
    target(3, 3, 0) = 1e30f;  // finite, but its square is not in float
    blurmix::FitOptions opt;
    opt.sigma_min = 1.f;
    opt.sigma_max = 2.f;
    opt.iters = 10;
    for (bool fused : {true, false}) {
        opt.fused = fused;
        CHECK_THROWS_WITH(blurmix::fit(src, target, opt), Catch::Contains("diverged at iteration 0"));
    }
}

TEST_CASE("should_stop ends the fit between iterations with a usable result", "[fit]") {
    blurmix::Image src = test::random_image(24, 20, 1, 9);
    blurmix::Image target = blurmix::blur(src, 2.f);
    for (bool fused : {true, false}) {
        blurmix::FitOptions opt;
        opt.sigma_min = 1.f;
        opt.sigma_max = 3.f;
        opt.iters = 1000;
        opt.fused = fused;
        int asked = 0;
        opt.should_stop = [&] { return ++asked > 3; };
        blurmix::FitResult r = blurmix::fit(src, target, opt);
        INFO((fused ? "fused" : "step by step") << ": stopped after " << r.iterations);
        CHECK(r.iterations > 0);
        CHECK(r.iterations < 1000);
        CHECK(r.weights.width() == 24);
        CHECK(std::isfinite(r.weights(3, 3)));
        opt.should_stop = nullptr;
        CHECK(blurmix::fit(src, target, opt).iterations == 1000);
    }
}

// The cache keeps an 8192x8192 float plane (256 MiB and Buffer's header: 258 MiB once rounded to
// huge pages), which a 256 MiB cap once freed at once, so that every blur of that size faulted in
// its output afresh. Kept memory comes back as it was left; memory the system maps afresh is zeros.
TEST_CASE("an 8192x8192 plane freed is handed out again as it was left", "[fit][memory]") {
    blurmix::install_halide_hooks();
    blurmix::release_kept_images();
    {
        blurmix::Image plane(8192, 8192, 1);
        plane(0, 0, 0) = 42.f;
        plane(8191, 8191, 0) = 7.f;
    }
    blurmix::Image again(8192, 8192, 1);
    CHECK(again(0, 0, 0) == 42.f);
    CHECK(again(8191, 8191, 0) == 7.f);
}

// Images of 8 MiB and more go back to a cache when freed and are handed out again unzeroed: a
// second fit of the same size runs on the first one's memory and must not depend on its contents.
TEST_CASE("a fit on recycled image memory gives the same result", "[fit]") {
    blurmix::Image src = test::random_image(1024, 1024, 1, 7);
    blurmix::Image target = left_right_target(src, 1.f, 3.f);
    blurmix::FitOptions opt;
    opt.sigma_min = 1.f;
    opt.sigma_max = 3.f;
    opt.iters = 20;
    opt.report_every = 5;
    blurmix::FitResult first = blurmix::fit(src, target, opt);
    blurmix::Map logits = first.logits.copy();
    std::vector<blurmix::LossPoint> losses = first.losses;
    first = blurmix::FitResult();  // its buffers go back to the cache
    for (bool released : {false, true}) {
        if (released) blurmix::release_kept_images();  // and on fresh memory after a release
        blurmix::FitResult again = blurmix::fit(src, target, opt);
        INFO((released ? "after release_kept_images" : "recycled"));
        REQUIRE(again.losses.size() == losses.size());
        for (size_t i = 0; i < losses.size(); i++) CHECK(again.losses[i].loss == losses[i].loss);
        int differ = 0;
        logits.for_each_element([&](int x, int y) { differ += logits(x, y) != again.logits(x, y); });
        CHECK(differ == 0);
    }
}
