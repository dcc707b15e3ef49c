// The driver's local blur, stack fit and eval as a user meets them.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "driver_util.h"
#include "evaluate.h"
#include "experiments.h"
#include "reference_local.h"
#include "scales.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using test::Run;
using test::run_driver;
using test::TempDir;

nlohmann::json last_json(const std::string &out) {
    return nlohmann::json::parse(out.substr(out.rfind('\n', out.size() - 2) + 1));
}

blurmix::Map halves(int w, int h, float left, float right) {
    blurmix::Map m(w, h);
    m.for_each_element([&](int x, int y) { m(x, y) = x < w / 2 ? left : right; });
    return m;
}

}  // namespace

TEST_CASE("driver: blur --sigma-map is the exact local blur, with --scales its approximation", "[driver][local]") {
    TempDir d;
    blurmix::Image in = test::random_image(30, 20, 2, 5);
    blurmix::Map sigma = halves(30, 20, 1.5f, 3.f);
    blurmix::save_npy(d / "in.npy", in);
    blurmix::save_npy(d / "sigma.npy", sigma);
    Run r = run_driver("blur " + d / "in.npy" + " " + d / "out.npy" + " --sigma-map " + d / "sigma.npy", d.path);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(test::max_abs_diff(blurmix::load_image(d / "out.npy"), ref::local_blur(ref::from(in), ref::grid(sigma))) < 4e-6);
    r = run_driver("blur " + d / "in.npy" + " " + d / "k.npy" + " --sigma-map " + d / "sigma.npy" + " --scales 3 --spacing even",
                   d.path);
    REQUIRE(r.status == 0);
    CHECK(test::max_abs_diff(blurmix::load_image(d / "k.npy"), blurmix::scale_blur(in, sigma, 3, blurmix::Spacing::even)) == 0);
}

TEST_CASE("driver: fit --scales writes sigma.npy and scale.npy and ends with JSON", "[driver][scales]") {
    TempDir d;
    blurmix::Image src = test::random_image(32, 24, 1, 8);
    // A target the 5-scale stack can represent exactly: scale position 1.5 everywhere. A pixel
    // alone may match it at other scales too; the penalty (for the first half) picks the smooth map.
    auto sigmas = blurmix::scale_sigmas(1.f, 5.f, 5, blurmix::Spacing::even);
    blurmix::Map truth(32, 24);
    truth.fill(2.5f);
    blurmix::Image target = blurmix::scale_mix(blurmix::scale_stack(src, sigmas), blurmix::scale_params_of(truth, sigmas));
    blurmix::save_npy(d / "src.npy", src);
    blurmix::save_npy(d / "target.npy", target);
    Run r = run_driver("fit --source " + d / "src.npy" + " --target " + d / "target.npy" +
                           " --sigma-min 1 --sigma-max 5 --scales 5 --spacing even --iters 400 --smooth 1e-3 --smooth-iters 200 --quiet --json --out " + d / "fit",
                       d.path);
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto j = last_json(r.out);
    CHECK(j["scales"] == 5);
    CHECK(j["sigmas"] == nlohmann::json({1, 2, 3, 4, 5}));
    CHECK(j["loss_final"].get<double>() < j["loss_initial"].get<double>() / 100);
    CHECK(j["sigma_mean"].get<double>() == Approx(2.5).margin(0.05));
    for (const char *f : {"fitted.npy", "sigma.npy", "sigma.png", "scale.npy"}) {
        INFO(f);
        CHECK(fs::exists(d.path / "fit" / f));
    }
    // A K-scale fit has no weights: no weights.npy and no weight_mean that would mean nothing.
    CHECK_FALSE(fs::exists(d.path / "fit" / "weights.npy"));
    CHECK_FALSE(j.contains("weight_mean"));
    blurmix::Map sigma = blurmix::load_map(d / "fit/sigma.npy"), scale = blurmix::load_map(d / "fit/scale.npy");
    CHECK(sigma.width() == 32);
    CHECK(sigma.height() == 24);
    // The two maps agree (even spacing from 1: sigma = 1 + position), and nearly every pixel is
    // at the truth: a few may stop in another of their own loss's minima (builds that round
    // differently, clang's sanitizer build among them, move which).
    int near = 0;
    sigma.for_each_element([&](int x, int y) {
        CHECK(sigma(x, y) == Approx(1.f + scale(x, y)).margin(1e-4));
        near += std::abs(sigma(x, y) - 2.5f) < 0.05f;
    });
    CHECK(near >= 0.9 * 32 * 24);
    // --smooth alone is the min/max method (2 scales) with the penalty.
    r = run_driver("fit --source " + d / "src.npy" + " --target " + d / "target.npy" +
                       " --sigma-min 1 --sigma-max 5 --smooth 0.001 --iters 50 --quiet --json",
                   d.path);
    REQUIRE(r.status == 0);
    CHECK(last_json(r.out)["scales"] == 2);
    CHECK(last_json(r.out)["smooth_kind"] == "tv");
}

TEST_CASE("driver: fit --scales smooths by default as eval and experiment D do, and not with --smooth 0",
          "[driver][scales]") {
    TempDir d;
    // Experiment D's case: the seed's signal, the target its exact local blur by left sigma 4 and
    // right sigma 7, fitted by a 7-scale stack from 3 to 9.
    blurmix::Image signal = blurmix::seed_signal();
    blurmix::Map truth = blurmix::experiment_d_sigma(signal.width(), signal.height());
    blurmix::save_npy(d / "signal.npy", signal);
    blurmix::save_npy(d / "target.npy", blurmix::local_blur(signal, truth));
    auto run_fit = [&](const std::string &name, const std::string &flags) {
        Run r = run_driver("fit --source " + d / "signal.npy" + " --target " + d / "target.npy" +
                               " --sigma-min 3 --sigma-max 9 --scales 7 --iters 1000 --quiet --json --out " + d / name +
                               flags,
                           d.path);
        INFO(r.err);
        REQUIRE(r.status == 0);
        return last_json(r.out);
    };
    // Mean recovered sigma of the left and right halves.
    auto halves_of = [&](const std::string &name) {
        blurmix::Map sigma = blurmix::load_map(d / (name + "/sigma.npy"));
        auto regions = blurmix::region_errors(truth, sigma);
        REQUIRE(regions.size() == 2);
        return std::make_pair(regions[0].mean, regions[1].mean);
    };
    auto by_default = run_fit("default", "");
    auto told = run_fit("told", " --smooth 1e-3 --smooth-kind tv --smooth-iters 500");
    auto off = run_fit("off", " --smooth 0");
    CHECK(by_default["smooth"].get<double>() == Approx(1e-3));
    CHECK(by_default["smooth_kind"] == "tv");
    CHECK(by_default["smooth_iters"] == 500);
    CHECK(off["smooth"] == 0.0);
    CHECK(off["smooth_kind"] == "none");
    // The default is that schedule exactly: the same fit, to the bit.
    CHECK(by_default["loss_final"] == told["loss_final"]);
    blurmix::Map a = blurmix::load_map(d / "default/sigma.npy"), b = blurmix::load_map(d / "told/sigma.npy");
    int differ = 0;
    a.for_each_element([&](int x, int y) { differ += a(x, y) != b(x, y); });
    CHECK(differ == 0);
    // And it is what gets the pixels out of their own loss's wrong minima: 4.19 and 6.99 smoothed,
    // 4.68 and 6.83 without (where a pixel stops without the penalty moves more between builds).
    auto [left, right] = halves_of("default");
    auto [left_off, right_off] = halves_of("off");
    CHECK(left == Approx(4.19).margin(0.05));
    CHECK(right == Approx(6.99).margin(0.05));
    CHECK(left_off == Approx(4.68).margin(0.1));
    CHECK(right_off == Approx(6.83).margin(0.1));
    CHECK(left_off - 4 > left - 4 + 0.3);
}

TEST_CASE("driver: eval scores min/max and the stacks and writes its pictures", "[driver][scales]") {
    TempDir d;
    blurmix::save_npy(d / "signal.npy", test::random_image(48, 40, 1, 9));
    blurmix::save_npy(d / "sigma.npy", halves(48, 40, 2.f, 3.5f));
    Run r = run_driver("eval --signal " + d / "signal.npy" + " --sigma-map " + d / "sigma.npy" +
                           " --scales 3 5 --iters 300 --quiet --json --out " + d / "eval",
                       d.path);
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto j = last_json(r.out);
    CHECK(j["sigma_min"].get<double>() == Approx(1.5));
    CHECK(j["sigma_max"].get<double>() == Approx(4.375));
    REQUIRE(j["methods"].size() == 3);
    CHECK(j["methods"][0]["method"] == "min/max");
    CHECK(j["methods"][2]["method"] == "K=5");
    for (auto &m : j["methods"]) {
        REQUIRE(m["regions"].size() == 2);
        CHECK(m["regions"][0]["sigma"] == 2.0);
        CHECK(m["regions"][0]["pixels"] == 24 * 40);
        CHECK(m["mse"].get<double>() > 0);
        CHECK(m["seconds"].get<double>() > 0);
    }
    CHECK(j["methods"][2]["mse"].get<double>() < j["methods"][0]["mse"].get<double>());
    for (const char *f : {"eval.png", "eval_sigma.png", "eval_error.png", "sigma_true.png", "sigma_minmax.png",
                          "sigma_k3.png", "sigma_k5.png", "error_minmax.png", "error_k5.png"}) {
        INFO(f);
        CHECK(fs::exists(d.path / "eval" / f));
    }
}

TEST_CASE("driver: bad input to the local blur, stack fit and eval is refused without output", "[driver][scales]") {
    TempDir d;
    blurmix::save_npy(d / "good.npy", test::random_image(16, 12, 1, 3));
    blurmix::save_npy(d / "sigma.npy", halves(16, 12, 1.f, 2.f));
    blurmix::save_npy(d / "small.npy", halves(8, 8, 1.f, 2.f));
    blurmix::Map neg = halves(16, 12, 1.f, 2.f);
    neg(4, 3) = -1.f;
    blurmix::save_npy(d / "neg.npy", neg);
    const std::string blur = "blur " + d / "good.npy" + " " + d / "out.npy";
    const std::string fit = "fit --source " + d / "good.npy" + " --target " + d / "good.npy" + " --sigma-min 1 --sigma-max 3";
    const std::string eval = "eval --signal " + d / "good.npy";
    const std::vector<test::Refusal> cases = {
        {blur, "blur needs --sigma S or --sigma-map MAP", 1},
        {blur + " --sigma 2 --sigma-map " + d / "sigma.npy", "excludes", 2},
        {blur + " --sigma 2 --scales 3", "--scales needs --sigma-map", 1},
        {blur + " --sigma-map " + d / "small.npy", "small.npy is 8x8 but the image is 16x12", 1},
        {blur + " --sigma-map " + d / "neg.npy", "row 3, column 4", 1},
        {blur + " --sigma-map " + d / "missing.npy", "missing.npy", 1},
        {blur + " --sigma-map " + d / "sigma.npy" + " --scales 1", "scales must be from 2 to 64", 1},
        {fit + " --scales 1", "scales must be from 2 to 64", 1},
        {fit + " --scales 4 --mode global", "--mode local", 1},
        {fit + " --scales 4 --learn-sigmas", "--learn-sigmas", 1},
        {fit + " --scales 4 --spacing log", "unknown spacing 'log'", 1},
        {fit + " --smooth 0.1 --smooth-kind l1", "unknown smoothness 'l1'", 1},
        {eval, "--sigma-map", 2},
        {eval + " --sigma-map " + d / "small.npy", "but the image is 16x12", 1},
        {eval + " --sigma-map " + d / "sigma.npy" + " --sigma-min 3 --sigma-max 2", "must be smaller", 1},
        {eval + " --sigma-map " + d / "sigma.npy" + " --scales 1", "scales must be from 2 to 64", 1},
        {eval + " --sigma-map " + d / "sigma.npy" + " --sigma-min 0", "sigma-min must be a number in (0, 1000]", 1},
        {eval + " --sigma-map " + d / "sigma.npy" + " --scale-lr 0", "scale-lr must be a positive number", 1},
        {eval + " --sigma-map " + d / "sigma.npy" + " --repeat 0", "repeat must be at least 1", 1},
    };
    test::check_refusals(cases, d);
}
