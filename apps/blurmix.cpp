// blurmix: the command-line driver. Exit status 0 on success, 1 on a refused input or a failed
// run (with a message on stderr naming the problem), 2 on a bad command line, 128 + the signal
// after SIGINT or SIGTERM (a fit then writes the state it reached).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>
#include <set>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "blurmix.h"
#include "colormap.h"
#include "driver.h"
#include "eval.h"
#include "experiments.h"

using namespace blurmix;

namespace {

void add_variant(CLI::App *cmd, Variant &v) {
    cmd->add_option("--device", v.device, "cpu, opencl or cuda (as built)")->capture_default_str();
    cmd->add_option("--schedule", v.schedule,
                    "manual, naive, mullapudi2016, adams2019, li2018, anderson2021 (as built)")
        ->capture_default_str();
}

bool is_png(const std::string &path) {
    return path.size() >= 4 && path.compare(path.size() - 4, 4, ".png") == 0;
}

// Input limits, the colour rule and --force, shared by blur, mix and fit.
struct IoArgs {
    InputOptions in;
    uint64_t max_pixels = 1ull << 28, max_megabytes = 2048;
    bool force = false;
};

void add_io_options(CLI::App *cmd, IoArgs &io) {
    cmd->add_option("--max-pixels", io.max_pixels, "refuse input images with more pixels (width x height)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--max-megabytes", io.max_megabytes, "refuse input images larger than this as float32, in MiB")
        ->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_flag("--linear", io.in.linear, "decode PNG inputs from sRGB to linear light, encode PNG outputs back");
    cmd->add_flag("--force", io.force, "replace existing output files");
}

void apply_limits(IoArgs &io) {
    if (io.max_megabytes > (UINT64_MAX >> 20)) throw Error("--max-megabytes is too large");
    io.in.limits.max_pixels = io.max_pixels;
    // A long thin image is fine as long as its pixel count is within the limit.
    io.in.limits.max_width = io.in.limits.max_height = std::min<uint64_t>(io.max_pixels, INT32_MAX);
    io.in.limits.max_bytes = io.max_megabytes << 20;
}

int run_blur(const std::string &in_path, const std::string &out_path, float sigma, BlurOptions opt,
             const IoArgs &io) {
    Image in = load_input(in_path, io.in);
    check_output_path(out_path);
    check_new_output(out_path, io.force);
    Image out = blur(in, sigma, opt);
    throw_if_interrupted();
    save_output(out_path, out, io.in);
    return 0;
}

int run_mix(const std::string &in_path, const std::string &out_path, float s_min, float s_max,
            const std::optional<float> &weight, const std::string &weights_path, BlurOptions opt,
            const IoArgs &io) {
    check_sigma(s_min, "sigma-min");
    check_sigma(s_max, "sigma-max");
    Image in = load_input(in_path, io.in);
    Map weights;
    if (weight) {
        weights = Map(1, 1);
        weights(0, 0) = *weight;
    } else {
        weights = load_map(weights_path, io.in.limits);
    }
    check_output_path(out_path);
    check_new_output(out_path, io.force);
    Image a = blur(in, s_min, opt), b = blur(in, s_max, opt);
    Image out = mix(a, b, logits_of(weights), opt.variant);
    throw_if_interrupted();
    save_output(out_path, out, io.in);
    return 0;
}

void print_progress(const FitProgress &p) {
    std::printf("iteration %5d  loss %.6e", p.iteration, p.loss);
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

struct FitArgs {
    std::string source, target, out;
    std::string mode = "local";
    bool json = false, quiet = false;
    FitOptions opt;
    ScaleArgs scales;
};

int run_fit(FitArgs &args, const IoArgs &io) {
    FitOptions &opt = args.opt;
    opt.mode = parse_mode(args.mode);
    Image source = load_input(args.source, io.in), target = load_input(args.target, io.in);
    check_fit_inputs(source, target, opt);
    const ScaleOptions so = args.scales.options(opt.iters);
    if (args.scales.used()) check_scale_options(opt, so);
    const std::string fitted_name = is_png(args.source) ? "/fitted.png" : "/fitted.npy";
    if (!args.out.empty()) {
        prepare_output_dir(args.out);
        std::vector<std::string> names = {fitted_name, "/sigma.npy", "/sigma.png"};
        names.push_back(args.scales.used() ? "/scale.npy" : "/weights.npy");
        for (const std::string &name : names) check_new_output(args.out + name, io.force);
    }
    if (!args.quiet) {
        opt.progress = [](const FitProgress &p) { print_progress(p); };
    }
    // An interrupted fit stops between iterations and its outputs hold the state it reached.
    opt.should_stop = [] { return interrupt_signal() != 0; };
    FitResult r = args.scales.used() ? fit_scales(source, target, opt, so) : fit(source, target, opt);
    if (!args.out.empty()) {
        if (args.scales.used()) save_npy(args.out + "/scale.npy", scale_position_of(r.params, so.scales));
        save_output(args.out + fitted_name, r.fitted, io.in);
        if (!args.scales.used()) save_npy(args.out + "/weights.npy", r.weights);
        save_npy(args.out + "/sigma.npy", r.sigma);
        save_colormap_png(args.out + "/sigma.png", r.sigma, std::min(r.sigma_min, r.sigma_max),
                          std::max(r.sigma_min, r.sigma_max), "sigma");
    }
    nlohmann::json j = fit_json(r, opt);
    if (args.scales.used()) add_scale_json(j, so, opt);
    const int sig = interrupt_signal();  // once: a signal during the saves counts too
    if (sig) {
        j["interrupted"] = true;
        std::cerr << "blurmix: " << Interrupted(sig).what() << " after " << r.iterations << " of " << opt.iters
                  << " iterations; "
                  << (args.out.empty() ? std::string("nothing written (no --out)")
                                       : "the outputs in " + args.out + " hold that state")
                  << std::endl;
    }
    if (args.json) std::cout << j.dump() << std::endl;
    return sig ? 128 + sig : 0;
}

}  // namespace

namespace blurmix {

int run_command_line(int argc, const char *const *argv, bool parse_only) {
    CLI::App app{"blurmix: an adaptive Gaussian blur that mixes a small and a large blur with "
                 "per-pixel or global weights, and fits those weights to a target."};
    app.require_subcommand(1);
    app.set_version_flag("--version", "blurmix 0.1.0");

    std::string in, out, weights;
    float sigma = 0, s_min = 0, s_max = 0;
    std::optional<float> weight;
    BlurOptions blur_opt;
    std::string boundary = "zero";

    auto blur_cmd = app.add_subcommand("blur", "Gaussian blur of an image (PNG or .npy)");
    blur_cmd->add_option("IN", in, "input image")->required();
    blur_cmd->add_option("OUT", out, "output image (.png or .npy)")->required();
    auto sigma_opt = blur_cmd->add_option("--sigma", sigma, "standard deviation in pixels");
    std::string sigma_map;
    ScaleArgs blur_scales;
    blur_cmd->add_option("--sigma-map", sigma_map, "a sigma per pixel (rows x columns): the exact local blur")
        ->excludes(sigma_opt);
    add_scale_options(blur_cmd, blur_scales, false);
    for (auto *cmd : {blur_cmd}) {
        cmd->add_option("--std-devs", blur_opt.std_devs, "kernel half-width in sigmas")->capture_default_str();
        cmd->add_option("--boundary", boundary, "zero, clamp or mirror")->capture_default_str();
        add_variant(cmd, blur_opt.variant);
    }
    IoArgs io;
    add_io_options(blur_cmd, io);

    auto mix_cmd = app.add_subcommand("mix", "mix of a small and a large blur: w blur(s_min) + (1 - w) blur(s_max)");
    mix_cmd->add_option("IN", in, "input image")->required();
    mix_cmd->add_option("OUT", out, "output image (.png or .npy)")->required();
    mix_cmd->add_option("--sigma-min", s_min)->required();
    mix_cmd->add_option("--sigma-max", s_max)->required();
    auto w_opt = mix_cmd->add_option("--weight", weight, "one weight in [0, 1] for every pixel");
    auto ws_opt = mix_cmd->add_option("--weights", weights, "weight map (rows x columns, .npy or grey PNG)");
    w_opt->excludes(ws_opt);
    mix_cmd->add_option("--std-devs", blur_opt.std_devs)->capture_default_str();
    mix_cmd->add_option("--boundary", boundary, "zero, clamp or mirror")->capture_default_str();
    add_variant(mix_cmd, blur_opt.variant);
    add_io_options(mix_cmd, io);

    FitArgs fa;
    auto fit_cmd = app.add_subcommand("fit", "fit the mixing weights (and optionally the sigmas) to a target");
    fit_cmd->add_option("--source", fa.source, "the image to blur")->required();
    fit_cmd->add_option("--target", fa.target, "the image to match")->required();
    fit_cmd->add_option("--sigma-min", fa.opt.sigma_min)->required();
    fit_cmd->add_option("--sigma-max", fa.opt.sigma_max)->required();
    fit_cmd->add_option("--mode", fa.mode, "local (a weight per pixel) or global (one weight)")->capture_default_str();
    fit_cmd->add_option("--iters", fa.opt.iters)->capture_default_str();
    auto lr_opt = fit_cmd->add_option("--lr", fa.opt.adamax.lr, "Adamax learning rate (0.3 with --scales or --smooth)")
                      ->capture_default_str();
    fit_cmd->add_flag("--learn-sigmas", fa.opt.learn_sigmas, "fit sigma-min and sigma-max too");
    fit_cmd->add_option("--out", fa.out, "directory for fitted image, weights.npy, sigma.npy, sigma.png");
    fit_cmd->add_flag("--json", fa.json, "end with one line of JSON");
    fit_cmd->add_flag("--quiet", fa.quiet, "no progress lines");
    fit_cmd->add_option("--std-devs", fa.opt.blur.std_devs)->capture_default_str();
    fit_cmd->add_option("--boundary", boundary, "zero, clamp or mirror")->capture_default_str();
    add_variant(fit_cmd, fa.opt.blur.variant);
    add_io_options(fit_cmd, io);
    add_scale_options(fit_cmd, fa.scales, true);

    EvalArgs eval_args;
    auto eval_cmd = add_eval_command(app, eval_args);

    DemoArgs demo;
    auto demo_cmd = app.add_subcommand("demo", "the seed notebook's experiments A, B and C on its 64x64 signal");
    demo_cmd->add_option("--out", demo.out, "directory for the pictures")->capture_default_str();
    demo_cmd->add_option("--iters", demo.iters)->capture_default_str();
    demo_cmd->add_flag("--json", demo.json, "one JSON line per experiment");
    add_variant(demo_cmd, demo.variant);
    demo_cmd->add_flag("--force", demo.force, "replace existing pictures");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        if (argc > 1 && argv[1][0] != '-' &&
            std::set<std::string>{"blur", "mix", "fit", "demo", "eval"}.count(argv[1]) == 0) {
            std::cerr << "blurmix: unknown command '" << argv[1] << "' (blur, mix, fit, demo or eval)\n";
        } else {
            app.exit(e);
        }
        return 2;
    }
    try {
        Boundary b = parse_boundary(boundary);
        blur_opt.boundary = b;
        fa.opt.blur.boundary = b;
        apply_limits(io);
        if (parse_only) return 0;
        if (*blur_cmd && !sigma_map.empty()) {
            check_new_output(out, io.force);
            return run_local_blur(in, out, sigma_map, blur_scales, blur_opt);
        }
        if (*blur_cmd && blur_scales.scales > 0) throw Error("--scales needs --sigma-map");
        if (*blur_cmd && sigma_opt->count() == 0) throw Error("blur needs --sigma S or --sigma-map MAP");
        if (*blur_cmd) return run_blur(in, out, sigma, blur_opt, io);
        if (*mix_cmd) {
            if (!weight && weights.empty()) throw Error("mix needs --weight W or --weights MAP");
            return run_mix(in, out, s_min, s_max, weight, weights, blur_opt, io);
        }
        if (*fit_cmd && fa.scales.used() && lr_opt->count() == 0) fa.opt.adamax.lr = kScaleFitLr;
        if (*fit_cmd) return run_fit(fa, io);
        if (*demo_cmd) return run_demo(demo);
        if (*eval_cmd) return run_eval(eval_args);
    } catch (const Interrupted &e) {
        std::cerr << "blurmix: " << e.what() << "; nothing more written" << std::endl;
        return 128 + e.signal;
    } catch (const std::exception &e) {
        std::cerr << "blurmix: error: " << e.what() << std::endl;
        return 1;
    }
    return 2;
}

}  // namespace blurmix

#ifndef BLURMIX_NO_MAIN
int main(int argc, char **argv) {
    install_interrupt_handlers();
    return run_command_line(argc, argv);
}
#endif
