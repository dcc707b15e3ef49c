// The mix, the loss and every analytic gradient against the double-precision reference and
// central finite differences of it; one Adamax step against PyTorch's formula.
#include <catch2/catch.hpp>

#include "blurmix.h"
#include "reference.h"
#include "test_util.h"

namespace {

struct Problem {
    blurmix::Image src, target, a, b;
    ref::Array src_ref, a_ref, b_ref, target_ref;
    double s_min = 1.3, s_max = 3.7;
    Problem(int w, int h, int c) : src(test::random_image(w, h, c, 11)), target(test::random_image(w, h, c, 12)),
        src_ref(ref::from(src)), a_ref(1, 1, 1), b_ref(1, 1, 1), target_ref(ref::from(target)) {
        a = blurmix::blur(src, (float)s_min);
        b = blurmix::blur(src, (float)s_max);
        a_ref = ref::blur(src_ref, s_min);
        b_ref = ref::blur(src_ref, s_max);
    }
    double loss(const std::vector<double> &logits) const {
        return ref::mse(ref::mix(a_ref, b_ref, logits), target_ref);
    }
};

blurmix::Map random_logits(int w, int h, unsigned seed) {
    blurmix::Image im = test::random_image(w, h, 1, seed);
    blurmix::Map m(w, h);
    m.for_each_element([&](int x, int y) { m(x, y) = 4.f * im(x, y, 0) - 2.f; });
    return m;
}

std::vector<double> to_vector(const blurmix::Map &m) {
    std::vector<double> v;
    for (int y = 0; y < m.height(); y++)
        for (int x = 0; x < m.width(); x++) v.push_back(m(x, y));
    return v;
}

}  // namespace

TEST_CASE("mix matches the reference, per pixel and global", "[mix]") {
    Problem p(37, 21, 3);
    blurmix::Map logits = random_logits(37, 21, 5);
    CHECK(test::max_abs_diff(blurmix::mix(p.a, p.b, logits), ref::mix(p.a_ref, p.b_ref, to_vector(logits))) < 2e-6);
    blurmix::Map global(1, 1);
    global(0, 0) = 0.3f;
    CHECK(test::max_abs_diff(blurmix::mix(p.a, p.b, global), ref::mix(p.a_ref, p.b_ref, {0.3})) < 2e-6);
    blurmix::Map wrong(5, 5);
    CHECK_THROWS_WITH(blurmix::mix(p.a, p.b, wrong), Catch::Contains("weight map is 5x5"));
}

TEST_CASE("loss and d loss / d logit match finite differences (local)", "[gradient]") {
    for (int c : {1, 3}) {
        Problem p(19, 13, c);
        blurmix::Map logits = random_logits(19, 13, 6);
        std::vector<double> l = to_vector(logits);
        blurmix::Gradient g = blurmix::mix_gradient(p.a, p.b, logits, p.target);
        CHECK(g.loss == Approx(p.loss(l)).epsilon(1e-5));
        const double h = 1e-4;
        double worst = 0, scale = 0, total = 0;
        for (int y = 0; y < 13; y++)
            for (int x = 0; x < 19; x++) {
                auto up = l, down = l;
                up[y * 19 + x] += h;
                down[y * 19 + x] -= h;
                double fd = (p.loss(up) - p.loss(down)) / (2 * h);
                worst = std::max(worst, std::abs(fd - g.d_logit(x, y)));
                scale = std::max(scale, std::abs(fd));
                total += g.d_logit(x, y);
            }
        INFO("channels " << c << " scale " << scale);
        CHECK(scale > 1e-6);
        CHECK(worst < 1e-3 * scale);
        CHECK(g.d_logit_total == Approx(total).epsilon(1e-5));
    }
}

TEST_CASE("d loss / d logit matches finite differences (global)", "[gradient]") {
    Problem p(31, 29, 2);
    for (double l0 : {-1.5, 0.0, 0.8}) {
        blurmix::Map logit(1, 1);
        logit(0, 0) = (float)l0;
        blurmix::Gradient g = blurmix::mix_gradient(p.a, p.b, logit, p.target);
        const double h = 1e-5;
        double fd = (p.loss({l0 + h}) - p.loss({l0 - h})) / (2 * h);
        INFO("logit " << l0);
        CHECK(g.loss == Approx(p.loss({l0})).epsilon(1e-5));
        CHECK(g.d_logit_total == Approx(fd).epsilon(1e-4));
    }
}

TEST_CASE("d loss / d sigma_min and sigma_max match finite differences", "[gradient]") {
    blurmix::Image src = test::random_image(27, 22, 2, 21), target = test::random_image(27, 22, 2, 22);
    ref::Array src_ref = ref::from(src), target_ref = ref::from(target);
    blurmix::Map logits = random_logits(27, 22, 23);
    std::vector<double> l = to_vector(logits);
    for (blurmix::Boundary bd : {blurmix::Boundary::zero, blurmix::Boundary::mirror}) {
        const double s_min = 1.3, s_max = 3.7, h = 1e-4;
        auto loss = [&](double lo, double hi) {
            return ref::mse(ref::mix(ref::blur(src_ref, lo, 2, bd), ref::blur(src_ref, hi, 2, bd), l), target_ref);
        };
        auto [a, da] = blurmix::blur_with_derivative(src, (float)s_min, {2.f, bd, {}});
        auto [b, db] = blurmix::blur_with_derivative(src, (float)s_max, {2.f, bd, {}});
        blurmix::Gradient g = blurmix::mix_gradient(a, b, logits, target, {}, &da, &db);
        double fd_min = (loss(s_min + h, s_max) - loss(s_min - h, s_max)) / (2 * h);
        double fd_max = (loss(s_min, s_max + h) - loss(s_min, s_max - h)) / (2 * h);
        INFO("boundary " << blurmix::boundary_name(bd) << " fd " << fd_min << " " << fd_max);
        CHECK(std::abs(fd_min) > 1e-5);
        CHECK(g.d_sigma_min == Approx(fd_min).epsilon(2e-3));
        CHECK(g.d_sigma_max == Approx(fd_max).epsilon(2e-3));
        CHECK(g.loss == Approx(loss(s_min, s_max)).epsilon(1e-5));
    }
}

TEST_CASE("one Adamax step follows PyTorch's formula", "[adamax]") {
    blurmix::Map init = random_logits(9, 4, 31), grad = random_logits(9, 4, 32);
    blurmix::AdamaxState s(init);
    blurmix::AdamaxParams p{0.1f, 0.9f, 0.999f, 1e-8f};
    // Two steps, so that the state and the bias correction of step 2 are used.
    std::vector<double> param = to_vector(init), avg(param.size(), 0), inf(param.size(), 0);
    for (int step = 1; step <= 2; step++) {
        blurmix::adamax_step(s, grad, p);
        std::vector<double> g = to_vector(grad);
        double clr = 0.1 / (1 - std::pow(0.9, step));
        for (size_t i = 0; i < param.size(); i++) {
            avg[i] = 0.9 * avg[i] + 0.1 * g[i];
            inf[i] = std::max(0.999 * inf[i], std::abs(g[i]) + 1e-8);
            param[i] -= clr * avg[i] / inf[i];
        }
        REQUIRE(s.step == step);
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 9; x++) {
                size_t i = y * 9 + x;
                CHECK(s.param(x, y) == Approx(param[i]).epsilon(1e-6));
                CHECK(s.exp_avg(x, y) == Approx(avg[i]).epsilon(1e-6));
                CHECK(s.exp_inf(x, y) == Approx(inf[i]).epsilon(1e-6));
            }
    }
    // The first step moves each parameter by lr against its gradient's sign, exactly.
    blurmix::AdamaxState one(init);
    blurmix::adamax_step(one, grad, p);
    CHECK(one.param(3, 2) - init(3, 2) == Approx(grad(3, 2) > 0 ? -0.1 : 0.1).epsilon(1e-5));
}

TEST_CASE("a pipeline's own error becomes an exception with Halide's message", "[errors]") {
    // adamax_step leaves the size check to the pipeline: a gradient smaller than the state is
    // caught by Halide's bounds checks and reported through the runtime layer's error handler.
    blurmix::AdamaxState s(random_logits(9, 4, 1));
    blurmix::Map small = random_logits(3, 4, 2);
    CHECK_THROWS_WITH(blurmix::adamax_step(s, small, {}), Catch::Contains("adamax failed") && Catch::Contains("grad"));
    // The state is untouched and the next call works.
    CHECK(s.step == 0);
    blurmix::adamax_step(s, random_logits(9, 4, 3), {});
    CHECK(s.step == 1);
}
