// The blurmix driver as a user meets it: real runs, and bad input refused with a message, a
// non-zero exit and no output file.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "driver_util.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using test::Run;
using test::run_driver;
using test::TempDir;

void write_text(const std::string &path, const std::string &text) {
    std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("driver: blur and mix write images matching the library", "[driver]") {
    TempDir d;
    blurmix::Image in = test::random_image(40, 30, 3, 5);
    blurmix::save_png(d / "in.png", in);
    blurmix::Image in_q = blurmix::load_image(d / "in.png");
    Run r = run_driver("blur " + d / "in.png" + " " + d / "out.npy" + " --sigma 2.5 --boundary mirror", d.path);
    INFO(r.err);
    REQUIRE(r.status == 0);
    blurmix::Image out = blurmix::load_image(d / "out.npy");
    CHECK(test::max_abs_diff(out, ref::blur(ref::from(in_q), 2.5, 2, blurmix::Boundary::mirror)) < 2e-6);

    r = run_driver("mix " + d / "in.png" + " " + d / "mix.npy" + " --sigma-min 1 --sigma-max 4 --weight 0.25 --timings",
                   d.path);
    REQUIRE(r.status == 0);
    // --timings: the phases on stderr, for the whole-command benchmark (apps/bench/bench_commands.py).
    CHECK_THAT(r.err, Catch::Matchers::Matches("timings: read [0-9.]+ s, compute [0-9.]+ s, write [0-9.]+ s\n"));
    ref::Array a = ref::blur(ref::from(in_q), 1), b = ref::blur(ref::from(in_q), 4);
    CHECK(test::max_abs_diff(blurmix::load_image(d / "mix.npy"), ref::mix(a, b, {std::log(0.25 / 0.75)})) < 2e-6);
}

TEST_CASE("driver: fit writes its outputs and ends with JSON", "[driver]") {
    TempDir d;
    blurmix::Image src = test::random_image(32, 24, 1, 8);
    // A target the model can represent exactly: weight 0.3 on blur 2, 0.7 on blur 6.
    blurmix::Map w(1, 1);
    w(0, 0) = 0.3f;
    blurmix::Image target = blurmix::mix(blurmix::blur(src, 2.f), blurmix::blur(src, 6.f), blurmix::logits_of(w));
    blurmix::save_npy(d / "src.npy", src);
    blurmix::save_npy(d / "target.npy", target);
    Run r = run_driver("fit --source " + d / "src.npy" + " --target " + d / "target.npy" +
                    " --sigma-min 2 --sigma-max 6 --mode global --iters 300 --out " + d / "fit" + " --json --timings",
                    d.path);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("iteration   100") != std::string::npos);
    CHECK_THAT(r.err, Catch::Matchers::Matches("timings: read [0-9.]+ s, fit [0-9.]+ s, write [0-9.]+ s\n"));
    std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
    auto j = nlohmann::json::parse(last);
    CHECK(j["mode"] == "global");
    CHECK(j["iters"] == 300);
    CHECK(j["loss_final"].get<double>() < j["loss_initial"].get<double>() / 100);
    CHECK(j["weight"].get<double>() == Approx(0.3).margin(0.01));
    CHECK(j["recovered_sigma"].get<double>() == Approx(0.3 * 2 + 0.7 * 6).margin(0.05));
    for (const char *f : {"fitted.npy", "weights.npy", "sigma.npy", "sigma.png"}) {
        INFO(f);
        CHECK(fs::exists(d.path / "fit" / f));
    }
    blurmix::Map sigma = blurmix::load_map(d / "fit/sigma.npy");
    CHECK(sigma.width() == 32);
    CHECK(sigma.height() == 24);
    CHECK(sigma(3, 4) == Approx(j["recovered_sigma"].get<double>()).epsilon(1e-5));
}

TEST_CASE("driver: fit takes RGB PNG pictures and writes a PNG back", "[driver]") {
    TempDir d;
    // A picture with structure at several scales, in 16-bit RGB.
    blurmix::Image photo(48, 40, 3);
    photo.for_each_element([&](int x, int y, int c) {
        photo(x, y, c) = 0.5f + 0.4f * std::sin(0.3f * x + 0.7f * c) * std::cos(0.21f * y) +
                         0.05f * ((x * 7 + y * 13 + c * 5) % 11) / 11.f;
    });
    blurmix::Map split(48, 40);
    split.for_each_element([&](int x, int y) { split(x, y) = y < 20 ? 1.f : 0.f; });
    blurmix::Image target = blurmix::mix(blurmix::blur(photo, 1.f), blurmix::blur(photo, 4.f), blurmix::logits_of(split));
    blurmix::save_png(d / "photo.png", photo, 16);
    blurmix::save_png(d / "target.png", target, 16);
    Run r = run_driver("fit --source " + d / "photo.png" + " --target " + d / "target.png" +
                       " --sigma-min 1 --sigma-max 4 --iters 400 --out " + d / "fit" + " --json", d.path);
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto j = nlohmann::json::parse(r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1));
    CHECK(j["loss_final"].get<double>() < j["loss_initial"].get<double>() / 20);
    blurmix::Image fitted = blurmix::load_image(d / "fit/fitted.png");
    CHECK(fitted.channels() == 3);
    CHECK(fitted.width() == 48);
    blurmix::Map sigma = blurmix::load_map(d / "fit/sigma.npy");
    double top = 0, bottom = 0;
    sigma.for_each_element([&](int x, int y) { (y < 20 ? top : bottom) += sigma(x, y); });
    CHECK(top / (48 * 20) < 2.0);
    CHECK(bottom / (48 * 20) > 3.0);
}

TEST_CASE("driver: demo prints the seed's numbers as JSON", "[driver]") {
    TempDir d;
    Run r = run_driver("demo --json --out " + d / "demo", d.path);
    INFO(r.err);
    REQUIRE(r.status == 0);
    std::istringstream lines(r.out);
    std::string line;
    std::vector<nlohmann::json> js;
    while (std::getline(lines, line)) js.push_back(nlohmann::json::parse(line));
    REQUIRE(js.size() == 4);  // A, B, C and D (D's goals: test_scales.cpp)
    CHECK(js[0]["mse"].get<double>() == Approx(0.012656264).epsilon(0.01));
    CHECK(js[1]["recovered_sigma"].get<double>() == Approx(3.1163).margin(0.005));
    CHECK(js[2]["sigma_left_mean"].get<double>() == Approx(5.553).margin(0.02));
    CHECK(js[2]["sigma_right_mean"].get<double>() == Approx(7.9838).margin(0.02));
    for (const char *f : {"a_mix.png", "c_recovery.png", "c_sigma.png"}) CHECK(fs::exists(d.path / "demo" / f));
}

TEST_CASE("driver: bad input gets a message, a non-zero exit and no output", "[driver]") {
    TempDir d;
    blurmix::Image good = test::random_image(16, 12, 1, 3);
    blurmix::save_npy(d / "good.npy", good);
    blurmix::save_npy(d / "small.npy", test::random_image(8, 8, 1, 4));
    blurmix::Image nan = good.copy();
    nan(5, 2, 0) = std::nanf("");
    blurmix::save_npy(d / "nan.npy", nan);
    write_text(d / "text.png", "this is not an image");
    write_text(d / "empty.npy", "");
    std::string truncated;
    {
        std::ifstream f(d / "good.npy", std::ios::binary);
        truncated.assign(std::istreambuf_iterator<char>(f), {});
    }
    write_text(d / "truncated.npy", truncated.substr(0, truncated.size() / 2));
    const std::string fit = "fit --source " + d / "good.npy" + " --target " + d / "good.npy";

    const std::vector<test::Refusal> cases = {
        {"blur " + d / "missing.png" + " " + d / "out.png" + " --sigma 2", "missing.png", 1},
        {"blur " + d / "text.png" + " " + d / "out.png" + " --sigma 2", "not a PNG or .npy", 1},
        {"blur " + d / "empty.npy" + " " + d / "out.png" + " --sigma 2", "empty.npy", 1},
        {"blur " + d / "truncated.npy" + " " + d / "out.png" + " --sigma 2", "truncated.npy", 1},
        {"blur " + d / "nan.npy" + " " + d / "out.png" + " --sigma 2", "NaN at row 2, column 5", 1},
        {"blur " + d / "good.npy" + " " + d / "out.png" + " --sigma 0", "sigma must be", 1},
        {"blur " + d / "good.npy" + " " + d / "out.png" + " --sigma -3", "sigma must be", 1},
        {"blur " + d / "good.npy" + " " + d / "out.png" + " --sigma nan", "sigma must be", 1},
        {"blur " + d / "good.npy" + " " + d / "out.png" + " --sigma abc", "--sigma", 2},
        {"blur " + d / "good.npy" + " " + d / "out.png" + " --sigma 2 --boundary wrap", "unknown boundary", 1},
        {"blur " + d / "good.npy" + " " + d / "out.tiff" + " --sigma 2", "must end in .png or .npy", 1},
        {"blur " + d / "good.npy" + " " + d / "nodir/out.png" + " --sigma 2", "does not exist", 1},
        {"blur " + d / "good.npy" + " " + d / "out.png" + " --sigma 2 --schedule nonesuch", "no blur pipeline", 1},
        {"mix " + d / "good.npy" + " " + d / "out.png" + " --sigma-min 1 --sigma-max 3", "--weight", 1},
        {"mix " + d / "good.npy" + " " + d / "out.png" + " --sigma-min 1 --sigma-max 3 --weights " + d / "small.npy", "weight map is 8x8", 1},
        {"mix " + d / "good.npy" + " " + d / "out.png" + " --sigma-min 1 --sigma-max 3 --weight 1.5", "weights must lie in [0, 1]", 1},
        {fit + " --sigma-min 5 --sigma-max 3", "must be smaller than sigma-max", 1},
        {fit + " --sigma-min 3 --sigma-max 3", "must be smaller than sigma-max", 1},
        {fit + " --sigma-min 1 --sigma-max 3 --iters 0", "iters must be at least 1", 1},
        {fit + " --sigma-min 1 --sigma-max 3 --lr 0", "lr must be a positive number", 1},
        {fit + " --sigma-min 1 --sigma-max 3 --lr -1", "lr must be a positive number", 1},
        {fit + " --sigma-min 1 --sigma-max 3 --mode both", "unknown mode 'both'", 1},
        {"fit --source " + d / "good.npy" + " --target " + d / "small.npy" + " --sigma-min 1 --sigma-max 3", "sizes differ", 1},
        {"fit --source " + d / "good.npy" + " --target " + d / "nan.npy" + " --sigma-min 1 --sigma-max 3", "NaN at row 2, column 5", 1},
        {fit + " --sigma-min 1 --sigma-max 3 --out " + d / "text.png", "text.png", 1},
        {"frobnicate", "frobnicate", 2},
        {"", "subcommand", 2},
    };
    test::check_refusals(cases, d);
}

TEST_CASE("driver: an output directory that cannot be made is refused before the work", "[driver]") {
    TempDir d;
    blurmix::save_npy(d / "good.npy", test::random_image(8, 8, 1, 3));
    // Permission bits do not stop root, so use places that refuse everyone: below a regular file,
    // and inside /proc.
    for (std::string out : {d / "good.npy/fit", std::string("/proc/blurmix-fit")}) {
        Run r = run_driver("fit --source " + d / "good.npy" + " --target " + d / "good.npy" +
                        " --sigma-min 1 --sigma-max 3 --iters 5 --out " + out, d.path);
        INFO(r.err);
        CHECK(r.status == 1);
        CHECK(r.err.find(out + ": cannot create the output directory") != std::string::npos);
        CHECK(r.out.find("iteration") == std::string::npos);
    }
}
