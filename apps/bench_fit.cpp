// bench_fit: times the fits of the fit-speed issue against the PyTorch seed loop, in one run.
//   bench_fit [--torch PYTHON] [--anchor SCRIPT] [--quick]
//   bench_fit --device cuda [--schedule manual] [--sizes 2048,8192] [--iters 100] [--torch-device cuda]
// Cases: 64x64 local and global x 1000 (the seed's B and C), 2048x2048 local x 100, 512x512
// local with learned sigmas x 100. With --device or --sizes: local fits of the given sizes on that
// device, against the anchor on --torch-device (cuda when --device is cuda: the same GPU). Each
// blurmix case is timed with halide_benchmark.h (best of several runs, warm); the PyTorch anchor
// (apps/bench/seed_torch.py) runs in a subprocess when a python3 with torch is found, and prints
// its own seconds. The ratios use the whole blurmix process where it was timed (the 64x64 cases),
// else fit(). Exit status 77 when the device does not answer here.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blurmix.h"
#include "halide_benchmark.h"

using namespace blurmix;

namespace {

Image noise(int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g;
    Image im(n, n, 1);
    im.for_each_value([&](float &v) { v = g(rng); });
    return im;
}

// The seed's case C target: left half blurred with sigma 4, right half with 7.
Image left_right_target(const Image &x) {
    Map left(x.width(), x.height());
    left.for_each_element([&](int i, int j) { left(i, j) = i < x.width() / 2 ? 1.f : 0.f; });
    return mix(blur(x, 4.f), blur(x, 7.f), logits_of(left));
}

struct Torch {
    double cached = -1, reblur = -1;  // seconds for the fit loop
    double cached_loss = NAN;         // the final loss of the loop with cached blurs
};

// Runs the anchor for one size on a torch device, on its own random signal or on `input` (an .npy
// path, "" for none); returns each experiment's fit seconds.
std::map<std::string, Torch> run_torch(const std::string &python, const std::string &script, int n, int iters,
                                       const std::string &device, const std::string &input) {
    std::string cmd = python + " " + script + " --size " + std::to_string(n) + " --iters " + std::to_string(iters) +
                      " --device " + device + (input.empty() ? "" : " --input " + input) + " 2>/dev/null";
    std::map<std::string, Torch> out;
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char line[4096];
    while (fgets(line, sizeof line, p)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.contains("seconds")) continue;
        Torch &t = out[j["exp"].get<std::string>()];
        const bool cached = j["cached_blurs"].get<bool>();
        (cached ? t.cached : t.reblur) = j["seconds"].get<double>();
        if (cached) t.cached_loss = j["loss_final"].get<double>();
    }
    pclose(p);
    return out;
}

// Wall time of a whole `blurmix fit` process (start, load, fit, exit), the median of runs.
double process_ms(const std::string &driver, const Image &x, const Image &target, Mode mode, int iters) {
    char dir[] = "/tmp/bench_fit-XXXXXX";
    if (!mkdtemp(dir)) return -1;
    const std::string src = std::string(dir) + "/x.npy", tgt = std::string(dir) + "/t.npy";
    save_npy(src, x);
    save_npy(tgt, target);
    std::vector<std::string> args = {driver, "fit", "--source", src, "--target", tgt, "--sigma-min", "3",
                                     "--sigma-max", "9", "--mode", mode == Mode::local ? "local" : "global",
                                     "--iters", std::to_string(iters), "--quiet"};
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<double> times;
    for (int i = 0; i < 21; i++) {
        auto t0 = std::chrono::steady_clock::now();
        pid_t pid;
        if (posix_spawn(&pid, driver.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return -1;
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::remove(src.c_str());
    std::remove(tgt.c_str());
    rmdir(dir);
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"bench_fit: blurmix fits against the PyTorch seed loop"};
    std::string python = "python3", script = BLURMIX_TORCH_ANCHOR, torch_device;
    bool quick = false;
    Variant variant;
    std::vector<int> sizes;
    int iters = 100, torch_iters = 0;
    app.add_option("--torch", python, "python with torch for the anchor ('' to skip)")->capture_default_str();
    app.add_option("--anchor", script, "the PyTorch anchor script")->capture_default_str();
    app.add_flag("--quick", quick, "small sizes only (a smoke test)");
    app.add_option("--device", variant.device, "device of the blurmix fits (cpu, opencl, cuda as built)")->capture_default_str();
    app.add_option("--schedule", variant.schedule, "schedule of the blurmix fits")->capture_default_str();
    app.add_option("--sizes", sizes, "local fits of these square sizes (default with --device: 2048,8192)")
        ->delimiter(',')->check(CLI::Range(8, 16384));
    app.add_option("--iters", iters, "iterations of the --sizes fits")->capture_default_str()->check(CLI::Range(1, 100000));
    app.add_option("--torch-device", torch_device, "torch device of the anchor (default: cuda with --device cuda, else cpu)");
    app.add_option("--torch-iters", torch_iters,
                   "the anchor's iterations for the --sizes fits, its time scaled to --iters (default: --iters on "
                   "a GPU, 5 on the CPU)")->check(CLI::Range(1, 100000));
    CLI11_PARSE(app, argc, argv);
    if (torch_device.empty()) torch_device = variant.device == "cuda" ? "cuda" : "cpu";
    if (torch_iters == 0) torch_iters = torch_device == "cpu" ? std::min(iters, 5) : iters;
    if (variant.device != "cpu" && sizes.empty()) sizes = {2048, 8192};
    try {
        bool built = false;
        for (const Variant &v : built_variants()) built |= v.device == variant.device && v.schedule == variant.schedule;
        if (!built) throw Error("no pipelines were built for " + to_string(variant) + " (BLURMIX_GPU_TARGETS, BLURMIX_SCHEDULES)");
        const std::string why = device_status(variant.device);
        if (!why.empty()) {
            std::fprintf(stderr, "SKIPPED: device %s is not available: %s\n", variant.device.c_str(), why.c_str());
            return 77;
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench_fit: %s\n", e.what());
        return 2;
    }

    struct Case {
        std::string name;
        int n, iters;
        Mode mode;
        bool learn;
        int torch_iters;  // the anchor's iterations; its time is scaled to `iters`
    };
    std::vector<Case> cases = {
        {"64x64 local x1000", 64, 1000, Mode::local, false, 1000},
        {"64x64 global x1000", 64, 1000, Mode::global, false, 1000},
        {"2048x2048 local x100", 2048, 100, Mode::local, false, 5},
        {"512x512 local, learned sigmas x100", 512, 100, Mode::local, true, 20},
    };
    if (quick) cases = {{"64x64 local x100", 64, 100, Mode::local, false, 0}};
    if (!sizes.empty()) {
        cases.clear();
        for (int n : sizes) {
            const std::string size = std::to_string(n) + "x" + std::to_string(n);
            cases.push_back({size + " local x" + std::to_string(iters), n, iters, Mode::local, false, torch_iters});
        }
    }

    std::printf("blurmix on %s; PyTorch anchor on %s\n", to_string(variant).c_str(), torch_device.c_str());
    std::vector<std::string> loss_lines;
    bool failed = false;
    std::printf("| case | blurmix fit() ms | blurmix process ms | PyTorch cached ms | PyTorch re-blur ms | vs cached | vs re-blur |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    for (const Case &c : cases) {
        Image x = noise(c.n, 1337), target = left_right_target(x);
        if (c.mode == Mode::global) target = blur(x, 3.f);
        FitOptions opt;
        opt.mode = c.mode;
        opt.iters = c.iters;
        opt.learn_sigmas = c.learn;
        opt.sigma_min = 3.f;
        opt.sigma_max = 9.f;
        opt.blur.variant = variant;
        float last_loss = NAN;
        double ms;
        try {
            ms = 1e3 * Halide::Tools::benchmark([&] { last_loss = fit(x, target, opt).losses.back().loss; },
                                                {0.1, c.n >= 512 ? 2.0 : 0.5, 3}).wall_time;
        } catch (const std::exception &e) {
            std::printf("| %s | fails: %s | | | | | |\n", c.name.c_str(), e.what());
            failed = true;
            continue;
        }
        // For the small cases the issue compares whole processes with the PyTorch loop alone.
        double proc = c.n <= 64 && !quick ? process_ms(BLURMIX_DRIVER, x, target, c.mode, c.iters) : -1;
        const double best = proc > 0 ? proc : ms;
        Torch t;
        if (!python.empty() && c.torch_iters > 0) {
            // The --sizes fits give the anchor their own signal, so that the losses can be compared.
            std::string input;
            char dir[] = "/tmp/bench_fit-XXXXXX";
            if (!sizes.empty() && mkdtemp(dir)) {
                input = std::string(dir) + "/x.npy";
                save_npy(input, x);
            }
            auto r = run_torch(python, script, c.n, c.torch_iters, torch_device, input);
            if (!input.empty()) {
                std::remove(input.c_str());
                rmdir(dir);
            }
            auto it = r.find(c.mode == Mode::local ? "C_local" : "B_global");
            if (it != r.end()) {
                double scale = (double)c.iters / c.torch_iters;
                t.cached = it->second.cached * scale * 1e3;
                t.reblur = it->second.reblur * scale * 1e3;
                t.cached_loss = it->second.cached_loss;
            }
        }
        auto cell = [](double v) { return v < 0 ? std::string("-") : std::to_string(v).substr(0, 8); };
        auto ratio = [&](double v) { return v < 0 ? std::string("-") : std::to_string(v / best).substr(0, 6) + "x"; };
        std::printf("| %s | %.3f | %s | %s | %s | %s | %s |\n", c.name.c_str(), ms, cell(proc).c_str(), cell(t.cached).c_str(),
                    cell(t.reblur).c_str(), ratio(t.cached).c_str(), ratio(t.reblur).c_str());
        if (!sizes.empty() && c.torch_iters == c.iters && !std::isnan(t.cached_loss)) {
            char line[256];
            std::snprintf(line, sizeof line, "%s: blurmix %.7g, PyTorch (cached blurs) %.7g, relative difference %.2g",
                          c.name.c_str(), last_loss, t.cached_loss, std::abs(last_loss - t.cached_loss) / t.cached_loss);
            loss_lines.push_back(line);
        }
        std::fflush(stdout);
    }
    // The same signal and target on both sides: the losses should agree to float32 rounding,
    // amplified by the steps (compare_schedules allows 1e-3 between whole fits).
    if (!loss_lines.empty()) std::printf("\nLoss before the last iteration's update, the same signal on both sides:\n");
    for (const std::string &l : loss_lines) std::printf("- %s\n", l.c_str());
    return failed ? 1 : 0;
}
