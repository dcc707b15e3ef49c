#include "driver.h"

#include <csignal>
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

void check_new_output(const std::string &path, bool force) {
    std::error_code ec;
    if (!force && fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec) {
        throw Error(path + ": exists; pass --force to replace it");
    }
}

Image load_input(const std::string &path, const InputOptions &in) {
    Image img = load_image(path, in.limits);
    check_finite(img, path);
    if (in.linear && sniff_format(path) == FileFormat::png) srgb_to_linear(img);
    return img;
}

void save_output(const std::string &path, const Image &img, const InputOptions &in) {
    if (!in.linear || extension(path) != ".png") return save_image(path, img);
    Image encoded = img.copy();
    linear_to_srgb(encoded);
    save_image(path, encoded);
}

namespace {
volatile std::sig_atomic_t received = 0;

// Only async-signal-safe work here: a flag, and the default action for a second signal.
extern "C" void on_interrupt(int sig) {
    if (received) {
        std::signal(sig, SIG_DFL);
        std::raise(sig);
        return;
    }
    received = sig;
}
}  // namespace

void install_interrupt_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

int interrupt_signal() {
    return received;
}

Interrupted::Interrupted(int sig)
    : std::runtime_error(std::string("interrupted by ") + (sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal")),
      signal(sig) {}

void throw_if_interrupted() {
    if (int sig = interrupt_signal()) throw Interrupted(sig);
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
    double ssum = 0;
    r.sigma.for_each_value([&](float s) { ssum += s; });
    const double n = (double)r.sigma.number_of_elements();
    nlohmann::json j = {
        {"mode", opt.mode == Mode::local ? "local" : "global"},
        {"iters", opt.iters},
        {"iterations", r.iterations},
        {"loss_initial", r.losses.front().loss},
        {"loss_final", r.losses.back().loss},
        {"sigma_mean", ssum / n},
        {"sigma_min", r.sigma_min},
        {"sigma_max", r.sigma_max},
        {"learn_sigmas", opt.learn_sigmas},
        {"device", opt.blur.variant.device},
        {"schedule", opt.blur.variant.schedule},
        {"seconds", r.seconds},
    };
    if (r.weights.data()) {  // min/max fits; a K-scale fit has no weights
        double wsum = 0;
        r.weights.for_each_value([&](float w) { wsum += w; });
        j["weight_mean"] = wsum / (double)r.weights.number_of_elements();
    }
    if (opt.mode == Mode::global) {
        const float w = r.weights(0, 0);
        j["weight"] = w;
        j["recovered_sigma"] = w * r.sigma_min + (1 - w) * r.sigma_max;
    }
    return j;
}

}  // namespace blurmix
