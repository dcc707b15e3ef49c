// Every subcommand with every shared flag: --max-pixels and --max-megabytes refuse an input too
// large exactly as `blur --sigma` does, --linear changes what is computed from a PNG (decoded
// to linear light, encoded back) and --force decides whether an existing output is replaced.
// A subcommand that accepts a flag must honour it; one that reads no image does not accept the
// input flags at all.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "driver_util.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using test::Run;
using test::run_driver;
using test::TempDir;

// One subcommand as the table runs it. In args: {IN}, {TARGET} (fit), {MAP} (a sigma map),
// {WEIGHTS} (a weight map) are the inputs; {OUT} is the output directory; {EXT} is png or npy,
// the format of IN (fit writes fitted.{EXT} by the same rule).
struct Subcommand {
    const char *name;
    std::string args;
    std::vector<std::string> outputs;  // every file it writes in {OUT} when IN is a PNG
    std::string image;                 // the output image (stem) --linear acts on; empty: eval's JSON
    bool reads_images = true;          // the demo reads none
};

const std::vector<Subcommand> &subcommands() {
    static const std::vector<Subcommand> table = {
        {"blur", "blur {IN} {OUT}/out.{EXT} --sigma 2", {"out.png"}, "out"},
        {"blur --sigma-map", "blur {IN} {OUT}/out.{EXT} --sigma-map {MAP}", {"out.png"}, "out"},
        {"blur --sigma-map --scales", "blur {IN} {OUT}/out.{EXT} --sigma-map {MAP} --scales 3", {"out.png"}, "out"},
        {"mix --weight", "mix {IN} {OUT}/out.{EXT} --sigma-min 1 --sigma-max 3 --weight 0.3", {"out.png"}, "out"},
        {"mix --weights", "mix {IN} {OUT}/out.{EXT} --sigma-min 1 --sigma-max 3 --weights {WEIGHTS}", {"out.png"},
         "out"},
        {"fit", "fit --source {IN} --target {TARGET} --sigma-min 1 --sigma-max 4 --iters 30 --quiet --out {OUT}",
         {"fitted.png", "sigma.npy", "sigma.png", "weights.npy"}, "fitted"},
        {"fit --scales",
         "fit --source {IN} --target {TARGET} --sigma-min 1 --sigma-max 4 --scales 3 --iters 30 --quiet --out {OUT}",
         {"fitted.png", "sigma.npy", "sigma.png", "scale.npy"}, "fitted"},
        {"eval", "eval --signal {IN} --sigma-map {MAP} --scales 3 --iters 30 --quiet --json --out {OUT}",
         {"eval.png", "eval_sigma.png", "eval_error.png", "sigma_true.png", "sigma_minmax.png", "error_minmax.png",
          "sigma_k3.png", "error_k3.png"},
         ""},
        {"demo", "demo --iters 5 --out {OUT}",
         {"a_mix.png", "c_recovery.png", "c_sigma.png", "d_eval.png", "d_eval_sigma.png", "d_eval_error.png",
          "d_sigma_true.png", "d_sigma_minmax.png", "d_error_minmax.png", "d_sigma_k4.png", "d_error_k4.png",
          "d_sigma_k7.png", "d_error_k7.png"},
         "", false},
    };
    return table;
}

void replace_all(std::string &s, const std::string &from, const std::string &to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
        s.replace(at, from.size(), to);
    }
}

std::string slurp(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// The inputs, in three forms: PNG (sRGB-encoded noise: its blur differs a lot between encoded
// values and light), the same decoded to linear light as .npy, and an image too large for
// --max-megabytes 1.
struct Inputs {
    enum Form { png, linear_npy, large };
    TempDir dir;
    int outs = 0;

    Inputs() {
        const int w = 24, h = 20;
        blurmix::Image in = test::random_image(w, h, 3, 11);
        blurmix::save_png(dir / "in.png", in);
        blurmix::save_png(dir / "target.png", blurmix::blur(blurmix::load_image(dir / "in.png"), 2.5f));
        for (const char *name : {"in", "target"}) {
            blurmix::Image linear = blurmix::load_image(dir / (std::string(name) + ".png"));
            blurmix::srgb_to_linear(linear);
            blurmix::save_npy(dir / (std::string(name) + "_linear.npy"), linear);
        }
        blurmix::Map sigma(w, h), weights(w, h);
        sigma.for_each_element([&](int x, int y) { sigma(x, y) = x < w / 2 ? 1.5f : 3.f; });
        weights.for_each_element([&](int x, int y) { weights(x, y) = float(y) / (h - 1); });
        blurmix::save_npy(dir / "sigma.npy", sigma);
        blurmix::save_npy(dir / "weights.npy", weights);
        // 300 x 300 x 3 floats: 1.03 MiB.
        blurmix::save_npy(dir / "large.npy", test::random_image(300, 300, 3, 12));
    }

    // A new, empty output directory.
    std::string new_out() {
        std::string out = dir / ("out" + std::to_string(outs++));
        fs::create_directory(out);
        return out;
    }

    std::string args(const Subcommand &s, Form form, const std::string &out) const {
        std::string a = s.args;
        replace_all(a, "{IN}", dir / (form == png ? "in.png" : form == linear_npy ? "in_linear.npy" : "large.npy"));
        replace_all(a, "{TARGET}",
                    dir / (form == png ? "target.png" : form == linear_npy ? "target_linear.npy" : "large.npy"));
        replace_all(a, "{MAP}", dir / "sigma.npy");
        replace_all(a, "{WEIGHTS}", dir / "weights.npy");
        replace_all(a, "{OUT}", out);
        replace_all(a, "{EXT}", form == png ? "png" : "npy");
        return a;
    }
};

}  // namespace

TEST_CASE("shared flags: --max-pixels and --max-megabytes refuse every subcommand's input alike",
          "[driver][flags]") {
    Inputs in;
    const Subcommand &blur = subcommands()[0];
    struct Limit {
        const char *flag;
        Inputs::Form form;
    };
    for (const Limit &limit : {Limit{" --max-pixels 10", Inputs::png}, Limit{" --max-megabytes 1", Inputs::large}}) {
        const Run reference = run_driver(in.args(blur, limit.form, in.new_out()) + limit.flag, in.dir.path);
        INFO("blur --sigma" << limit.flag << ": " << reference.err);
        REQUIRE(reference.status == 1);
        REQUIRE(reference.err.find(limit.form == Inputs::png ? "in.png" : "large.npy") != std::string::npos);
        for (const Subcommand &s : subcommands()) {
            if (!s.reads_images) continue;
            const std::string out = in.new_out();
            INFO(s.name << limit.flag);
            Run r = run_driver(in.args(s, limit.form, out) + limit.flag, in.dir.path);
            CHECK(r.status == 1);
            CHECK(r.err == reference.err);
            CHECK(fs::is_empty(out));
            CHECK(r.out.find("iteration") == std::string::npos);  // refused before the work
        }
    }
}

TEST_CASE("shared flags: --linear decodes every subcommand's PNG input and encodes its PNG output",
          "[driver][flags]") {
    Inputs in;
    // Numbers to compare: the output image, or eval's scores.
    auto values = [](const Subcommand &s, const Run &r, const std::string &out, const char *ext) {
        INFO(r.err);
        REQUIRE(r.status == 0);
        if (!s.image.empty()) return blurmix::load_image(out + "/" + s.image + "." + ext);
        auto j = nlohmann::json::parse(r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1));
        blurmix::Image scores(int(j["methods"].size()), 2, 1);
        for (int m = 0; m < scores.width(); m++) {
            scores(m, 0, 0) = j["methods"][m]["mse"].get<float>();
            scores(m, 1, 0) = j["methods"][m]["sigma_mae"].get<float>();
        }
        return scores;
    };
    for (const Subcommand &s : subcommands()) {
        if (!s.reads_images) continue;
        INFO(s.name);
        const std::string decoded = in.new_out(), stored = in.new_out(), linear = in.new_out();
        blurmix::Image with_flag = values(s, run_driver(in.args(s, Inputs::png, decoded) + " --linear", in.dir.path),
                                          decoded, "png");
        blurmix::Image without = values(s, run_driver(in.args(s, Inputs::png, stored), in.dir.path), stored, "png");
        blurmix::Image from_linear =
            values(s, run_driver(in.args(s, Inputs::linear_npy, linear), in.dir.path), linear, "npy");
        // The flag changes the result (eval's scores by their own size)...
        double changed = 0;
        with_flag.for_each_element([&](int x, int y, int c) {
            const double a = with_flag(x, y, c), b = without(x, y, c);
            changed = std::max(changed, std::abs(a - b) / (s.image.empty() ? std::max(std::abs(a), std::abs(b)) : 1.));
        });
        CHECK(changed > 0.02);
        if (s.image.empty()) {
            // ...to what the same run computes from the input in linear light.
            with_flag.for_each_element([&](int x, int y, int c) {
                CHECK(with_flag(x, y, c) == Approx(from_linear(x, y, c)).epsilon(1e-4));
            });
        } else {
            // ...to what the same run computes in linear light, encoded back to sRGB in an 8-bit PNG.
            blurmix::Image encoded = from_linear.copy();
            encoded.for_each_value([](float &v) { v = std::min(1.f, std::max(0.f, v)); });
            blurmix::linear_to_srgb(encoded);
            CHECK(test::max_abs_diff(with_flag, encoded) <= 0.5 / 255 + 1e-5);
        }
    }
}

TEST_CASE("shared flags: an existing output is kept without --force and replaced with it", "[driver][flags]") {
    Inputs in;
    const std::string junk = "somebody's file";
    for (const Subcommand &s : subcommands()) {
        INFO(s.name);
        // Any one of the outputs is enough to refuse, before the work.
        for (const std::string &name : s.outputs) {
            INFO(name);
            const std::string out = in.new_out();
            std::ofstream(out + "/" + name) << junk;
            Run r = run_driver(in.args(s, Inputs::png, out), in.dir.path);
            CHECK(r.status == 1);
            CHECK(r.err.find(out + "/" + name + ": exists; pass --force to replace it") != std::string::npos);
            CHECK(slurp(out + "/" + name) == junk);
            CHECK(std::distance(fs::directory_iterator(out), fs::directory_iterator()) == 1);
        }
        const std::string out = in.new_out();
        for (const std::string &name : s.outputs) std::ofstream(out + "/" + name) << junk;
        Run r = run_driver(in.args(s, Inputs::png, out) + " --force", in.dir.path);
        INFO(r.err);
        CHECK(r.status == 0);
        for (const std::string &name : s.outputs) {
            INFO(name);
            CHECK(slurp(out + "/" + name) != junk);
            CHECK_NOTHROW(blurmix::load_image(out + "/" + name));
        }
    }
}

TEST_CASE("shared flags: a subcommand that reads no image does not take the input flags", "[driver][flags]") {
    Inputs in;
    for (const Subcommand &s : subcommands()) {
        if (s.reads_images) continue;
        for (const std::string flag : {"--linear", "--max-pixels", "--max-megabytes"}) {
            INFO(s.name << " " << flag);
            const std::string out = in.new_out();
            Run r = run_driver(in.args(s, Inputs::png, out) + " " + flag + (flag == "--linear" ? "" : " 10"), in.dir.path);
            CHECK(r.status == 2);
            CHECK(r.err.find("not expected") != std::string::npos);
            CHECK(r.err.find(flag) != std::string::npos);
            CHECK(fs::is_empty(out));
        }
    }
}
