#include "driver.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace blurmix {

static std::string extension(const std::string &path) {
    return fs::path(path).extension().string();
}

void check_output_path(const std::string &path) {
    const std::string ext = extension(path);
    if (ext != ".png" && ext != ".npy") {
        throw Error(path + ": output must end in .png or .npy, not '" + ext + "'");
    }
    fs::path dir = fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error(path + ": directory " + dir.string() + " does not exist");
    if (access(dir.c_str(), W_OK) != 0) throw Error(path + ": directory " + dir.string() + " is not writable");
    if (fs::is_directory(path, ec)) throw Error(path + ": is a directory");
}

void prepare_output_dir(const std::string &dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(dir + ": cannot create the output directory: " + ec.message());
    if (!fs::is_directory(dir, ec)) throw Error(dir + ": exists and is not a directory");
    AtomicFile probe;  // removed again: never committed
    try {
        probe.open(dir + "/.blurmix-write-test");
    } catch (const Error &) {
        throw Error(dir + ": the output directory is not writable");
    }
}

void print_progress(const FitProgress &p, const char *prefix) {
    std::printf("%siteration %5d  loss %.6e", prefix, p.iteration, p.loss);
    std::printf("  sigma_min %.4f  sigma_max %.4f\n", p.sigma_min, p.sigma_max);
    std::fflush(stdout);
}

nlohmann::json fit_json(const FitResult &r, const FitOptions &opt) {
    double wsum = 0, ssum = 0;
    r.weights.for_each_value([&](float w) { wsum += w; });
    r.sigma.for_each_value([&](float s) { ssum += s; });
    const double n = (double)r.weights.number_of_elements();
    nlohmann::json j = {
        {"mode", opt.mode == Mode::local ? "local" : "global"},
        {"iters", opt.iters},
        {"loss_initial", r.losses.front().loss},
        {"loss_final", r.losses.back().loss},
        {"weight_mean", wsum / n},
        {"sigma_mean", ssum / n},
        {"sigma_min", r.sigma_min},
        {"sigma_max", r.sigma_max},
        {"learn_sigmas", opt.learn_sigmas},
        {"device", opt.blur.variant.device},
        {"schedule", opt.blur.variant.schedule},
        {"seconds", r.seconds},
    };
    if (opt.mode == Mode::global) {
        const float w = r.weights(0, 0);
        j["weight"] = w;
        j["recovered_sigma"] = w * r.sigma_min + (1 - w) * r.sigma_max;
    }
    return j;
}

}  // namespace blurmix
