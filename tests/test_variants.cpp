// Every built variant (device, schedule) of every stage against the manual CPU variant, to 1e-5
// of the result's scale. A device that is not built or does not answer here is reported as
// SKIPPED (CTest counts such a test as skipped, never as passed).
#include <catch2/catch.hpp>

#include "blurmix.h"
#include "test_util.h"

namespace {

using blurmix::Boundary;
using blurmix::Variant;

double max_abs(const blurmix::Map &m) {
    double worst = 0;
    m.for_each_value([&](float v) { worst = std::max(worst, (double)std::abs(v)); });
    return worst;
}

double max_abs_diff(const blurmix::Map &a, const blurmix::Map &b) {
    REQUIRE(a.width() == b.width());
    REQUIRE(a.height() == b.height());
    double worst = 0;
    a.for_each_element([&](int x, int y) { worst = std::max(worst, (double)std::abs(a(x, y) - b(x, y))); });
    return worst;
}

#define CHECK_CLOSE_IMAGE(got, want) CHECK(test::max_abs_diff(got, want) <= 1e-5 * std::max(1.0, max_abs((want).sliced(2, 0))))
#define CHECK_CLOSE_MAP(got, want) CHECK(max_abs_diff(got, want) <= 1e-5 * max_abs(want) + 1e-12)
#define CHECK_CLOSE(got, want) CHECK(std::abs((double)(got) - (double)(want)) <= 1e-5 * std::abs((double)(want)) + 1e-12)

void check_device(const std::string &device) {
    std::vector<Variant> variants;
    for (const Variant &v : blurmix::built_variants()) {
        if (v.device == device && !(v.device == "cpu" && v.schedule == "manual")) variants.push_back(v);
    }
    for (const auto &[v, why] : blurmix::skipped_variants("blur")) {
        if (v.device == device) WARN("not built: " << blurmix::to_string(v) << ": " << why);
    }
    if (variants.empty()) {
        WARN("SKIPPED: no " << device << " variants were built (BLURMIX_GPU_TARGETS)");
        return;
    }
    const std::string why = blurmix::device_status(device);
    if (!why.empty()) {
        WARN("SKIPPED: device " << device << " is not available: " << why);
        return;
    }
    const Variant cpu;
    for (const Variant &v : variants) {
        INFO(blurmix::to_string(v));
        // Autoscheduled tiles are sized for the generators' estimates and may not fit a smaller
        // image: those variants are checked at the estimates' size.
        const bool hand = v.schedule == "manual" || v.schedule == "naive";
        const int w = hand ? 37 : 1024, h = hand ? 23 : 1024, c = 3;
        blurmix::Image src = test::random_image(w, h, c, 5), target = test::random_image(w, h, c, 6);
        blurmix::Map logits(w, h), global(1, 1), grad(w, h);
        logits.for_each_element([&](int x, int y) { logits(x, y) = 0.1f * ((x - y) % 40); });
        global(0, 0) = 0.3f;
        grad.for_each_element([&](int x, int y) { grad(x, y) = 0.01f * ((x * 7 + y * 3) % 11 - 5); });
        auto built = [&](const char *p) {
            for (const auto &[s, why] : blurmix::skipped_variants(p)) {
                if (s.device == v.device && s.schedule == v.schedule) {
                    WARN("not built: " << p << " for " << blurmix::to_string(v) << ": " << why);
                    return false;
                }
            }
            return true;
        };
        for (Boundary b : {Boundary::zero, Boundary::clamp, Boundary::mirror}) {
            for (float s : {0.5f, 1.3f, 3.7f, 9.f}) {
                INFO("blur sigma " << s << " boundary " << blurmix::boundary_name(b));
                CHECK_CLOSE_IMAGE(blurmix::blur(src, s, {2.f, b, v}), blurmix::blur(src, s, {2.f, b, cpu}));
                if (!built("blur_with_derivative")) continue;
                auto [o, d] = blurmix::blur_with_derivative(src, s, {2.f, b, v});
                auto [o_ref, d_ref] = blurmix::blur_with_derivative(src, s, {2.f, b, cpu});
                CHECK_CLOSE_IMAGE(o, o_ref);
                CHECK_CLOSE_IMAGE(d, d_ref);
            }
        }
        auto [a, da] = blurmix::blur_with_derivative(src, 1.3f, {2.f, Boundary::zero, cpu});
        auto [bb, db] = blurmix::blur_with_derivative(src, 3.7f, {2.f, Boundary::zero, cpu});
        for (const blurmix::Map *l : {&logits, &global}) {
            INFO("logits " << l->width() << "x" << l->height());
            if (built("mix")) CHECK_CLOSE_IMAGE(blurmix::mix(a, bb, *l, v), blurmix::mix(a, bb, *l, cpu));
            blurmix::Gradient g_ref = blurmix::mix_gradient(a, bb, *l, target, cpu, &da, &db);
            if (built("mix_gradient_sigmas")) {
                blurmix::Gradient g = blurmix::mix_gradient(a, bb, *l, target, v, &da, &db);
                CHECK_CLOSE(g.loss, g_ref.loss);
                CHECK_CLOSE_MAP(g.d_logit, g_ref.d_logit);
                CHECK_CLOSE(g.d_logit_total, g_ref.d_logit_total);
                CHECK_CLOSE(g.d_sigma_min, g_ref.d_sigma_min);
                CHECK_CLOSE(g.d_sigma_max, g_ref.d_sigma_max);
            }
            if (built("mix_gradient")) {
                blurmix::Gradient g = blurmix::mix_gradient(a, bb, *l, target, v);
                CHECK_CLOSE(g.loss, g_ref.loss);
                CHECK_CLOSE_MAP(g.d_logit, g_ref.d_logit);
                CHECK_CLOSE(g.d_logit_total, g_ref.d_logit_total);
            }
        }
        if (!built("adamax")) continue;
        blurmix::AdamaxState s(logits), s_ref(logits);
        for (int i = 0; i < 3; i++) {
            blurmix::adamax_step(s, grad, {}, v);
            blurmix::adamax_step(s_ref, grad, {}, cpu);
        }
        CHECK_CLOSE_MAP(s.param, s_ref.param);
        CHECK_CLOSE_MAP(s.exp_avg, s_ref.exp_avg);
        CHECK_CLOSE_MAP(s.exp_inf, s_ref.exp_inf);

        // A fit that learns the sigmas runs every pipeline but mix_gradient.
        if (!built("blur_with_derivative") || !built("mix_gradient_sigmas") || !built("mix")) continue;
        blurmix::FitOptions opt;
        opt.iters = 5;
        opt.sigma_min = 1.5f;
        opt.sigma_max = 4.f;
        opt.learn_sigmas = true;
        blurmix::FitResult f_ref = blurmix::fit(src, target, opt);
        opt.blur.variant = v;
        blurmix::FitResult f = blurmix::fit(src, target, opt);
        CHECK_CLOSE(f.losses.back().loss, f_ref.losses.back().loss);
        CHECK_CLOSE(f.sigma_max, f_ref.sigma_max);
        CHECK_CLOSE_MAP(f.weights, f_ref.weights);
    }
}

}  // namespace

TEST_CASE("every CPU schedule agrees with the manual CPU schedule", "[variants]") { check_device("cpu"); }
TEST_CASE("every OpenCL schedule agrees with the manual CPU schedule", "[variants][gpu]") { check_device("opencl"); }
TEST_CASE("every CUDA schedule agrees with the manual CPU schedule", "[variants][gpu]") { check_device("cuda"); }

TEST_CASE("a device that is not built is refused with a message", "[variants]") {
    blurmix::Image in = test::random_image(4, 4, 1, 1);
    CHECK_THROWS_WITH(blurmix::blur(in, 1.f, {2.f, Boundary::zero, {"nonesuch", "manual"}}),
                      Catch::Contains("no blur pipeline was built for nonesuch/manual"));
    CHECK_FALSE(blurmix::device_available("nonesuch"));
    CHECK_THAT(blurmix::device_status("nonesuch"), Catch::Contains("no nonesuch pipelines were built"));
    CHECK(blurmix::device_available("cpu"));
}

TEST_CASE("an autoscheduled variant either takes a small image or says why in the user's terms", "[variants]") {
    // Autoscheduled tiles are sized for the generators' estimates; on a 64x64 image some reach
    // past the edges. Each such CPU variant must then agree with manual or refuse with a message
    // that names the schedule and the way out, never Halide's bare bounds error.
    blurmix::Image in = test::random_image(64, 64, 1, 9);
    const blurmix::Image want = blurmix::blur(in, 2.f);
    int checked = 0;
    for (const Variant &v : blurmix::built_variants("blur")) {
        if (v.device != "cpu" || v.schedule == "manual" || v.schedule == "naive") continue;
        INFO(blurmix::to_string(v));
        checked++;
        try {
            blurmix::Image got = blurmix::blur(in, 2.f, {2.f, Boundary::zero, v});
            CHECK(test::max_abs_diff(got, want) <= 1e-5);
        } catch (const blurmix::Error &e) {
            const std::string msg = e.what();
            CHECK_THAT(msg, Catch::Contains("the " + v.schedule + " schedule cannot take an image this small"));
            CHECK_THAT(msg, Catch::Contains("use the manual schedule"));
        }
    }
    if (checked == 0) WARN("SKIPPED: no autoscheduled CPU variants were built (BLURMIX_SCHEDULES)");
}
