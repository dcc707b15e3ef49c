// The generated blur against the double-precision reference: many sigmas, odd and tiny sizes,
// every boundary, several channels, every built variant.
#include <catch2/catch.hpp>

#include <random>

#include "blurmix.h"
#include "reference.h"
#include "test_util.h"

using blurmix::Boundary;

TEST_CASE("half width follows the seed's rule", "[blur]") {
    CHECK(blurmix::half_width(0.25f, 2) == 1);
    CHECK(blurmix::half_width(0.5f, 2) == 1);
    CHECK(blurmix::half_width(0.51f, 2) == 2);
    CHECK(blurmix::half_width(3.f, 2) == 6);
    CHECK(blurmix::half_width(9.f, 2) == 18);
    // 0.4f is 0.40000000596 in double, as Python's float(sigma) sees it: 2.5 times that is just
    // over 1, so the seed takes 2 (float arithmetic would round to 1.0 and take 1).
    CHECK(blurmix::half_width(0.4f, 2.5f) == 2);
}

TEST_CASE("blur matches the reference for sizes, sigmas, boundaries and channels", "[blur]") {
    const std::vector<std::array<int, 3>> sizes = {{1, 1, 1}, {7, 3, 1}, {3, 7, 2}, {65, 33, 3},
                                                   {16, 16, 4}, {130, 5, 1},
                                                   // two tiles across (8192 wide at most)
                                                   {8200, 3, 1}};
    const std::vector<float> sigmas = {0.25f, 0.5f, 1.f, 1.7f, 3.f, 5.5f, 9.f, 15.f};
    for (const blurmix::Variant &v : blurmix::built_variants()) {
        // Autoscheduled tiles need images of about the estimates' size: test_variants checks
        // those against the manual schedule there.
        if (!test::runs_here(v) || !(v.schedule == "manual" || v.schedule == "naive")) continue;
        for (auto [w, h, c] : sizes) {
            blurmix::Image in = test::random_image(w, h, c, w * 100 + h);
            ref::Array in_ref = ref::from(in);
            for (Boundary b : {Boundary::zero, Boundary::clamp, Boundary::mirror}) {
                for (float s : sigmas) {
                    INFO(blurmix::to_string(v) << " " << w << "x" << h << "x" << c << " sigma " << s
                                               << " boundary " << blurmix::boundary_name(b));
                    blurmix::Image out = blurmix::blur(in, s, {2.f, b, v});
                    ref::Array expect = ref::blur(in_ref, s, 2, b);
                    CHECK(test::max_abs_diff(out, expect) < 2e-6);
                }
            }
        }
    }
}

TEST_CASE("blur honours std_devs", "[blur]") {
    blurmix::Image in = test::random_image(40, 30, 1, 7);
    for (float sd : {1.f, 2.f, 3.5f}) {
        blurmix::Image out = blurmix::blur(in, 2.3f, {sd, Boundary::zero, {}});
        CHECK(test::max_abs_diff(out, ref::blur(ref::from(in), 2.3f, sd)) < 2e-6);
    }
}

TEST_CASE("blur preserves a constant image away from zero padding", "[blur]") {
    blurmix::Image in(20, 20, 1);
    in.fill(0.7f);
    for (Boundary b : {Boundary::clamp, Boundary::mirror}) {
        blurmix::Image out = blurmix::blur(in, 4.f, {2.f, b, {}});
        out.for_each_value([](float v) { CHECK(v == Approx(0.7f).epsilon(1e-6)); });
    }
    // Zero padding darkens the corner: a quarter of the mass of a centred kernel is inside.
    blurmix::Image out = blurmix::blur(in, 4.f);
    CHECK(out(0, 0, 0) < 0.7f * 0.35f);
    CHECK(out(10, 10, 0) > 0.6f);
}

TEST_CASE("the sigma derivative of the blur matches central differences", "[blur][gradient]") {
    blurmix::Image in = test::random_image(23, 17, 2, 3);
    ref::Array in_ref = ref::from(in);
    for (Boundary b : {Boundary::zero, Boundary::clamp, Boundary::mirror}) {
        for (double s : {0.8, 2.2, 3.3, 6.7}) {  // 2s away from integers: the half width is fixed nearby
            auto [out, d_out] = blurmix::blur_with_derivative(in, (float)s, {2.f, b, {}});
            const double h = 1e-4;
            ref::Array up = ref::blur(in_ref, s + h, 2, b), down = ref::blur(in_ref, s - h, 2, b);
            double worst = 0, scale = 0;
            for (int k = 0; k < in.channels(); k++)
                for (int y = 0; y < in.height(); y++)
                    for (int x = 0; x < in.width(); x++) {
                        double fd = (up(x, y, k) - down(x, y, k)) / (2 * h);
                        worst = std::max(worst, std::abs(fd - d_out(x, y, k)));
                        scale = std::max(scale, std::abs(fd));
                    }
            INFO("sigma " << s << " boundary " << blurmix::boundary_name(b) << " scale " << scale);
            CHECK(scale > 1e-3);
            CHECK(worst < 1e-4 * scale + 1e-6);
            CHECK(test::max_abs_diff(out, ref::blur(in_ref, s, 2, b)) < 2e-6);
        }
    }
}

TEST_CASE("bad blur arguments are refused with a message", "[blur]") {
    blurmix::Image in = test::random_image(4, 4, 1, 1);
    CHECK_THROWS_WITH(blurmix::blur(in, 0.f), Catch::Contains("sigma"));
    CHECK_THROWS_WITH(blurmix::blur(in, -1.f), Catch::Contains("sigma"));
    CHECK_THROWS_WITH(blurmix::blur(in, std::nanf("")), Catch::Contains("sigma"));
    CHECK_THROWS_WITH(blurmix::blur(in, 1.f, {0.f, Boundary::zero, {}}), Catch::Contains("std-devs"));
    CHECK_THROWS_WITH(blurmix::blur(in, 1.f, {2.f, Boundary::zero, {"cpu", "nonesuch"}}),
                      Catch::Contains("no blur pipeline was built for cpu/nonesuch"));
    CHECK_THROWS_WITH(blurmix::parse_boundary("wrap"), Catch::Contains("unknown boundary 'wrap'"));
}
