// blurmix fit --source S --target T --sigma-min A --sigma-max B: fits the mixing weights (and
// optionally the sigmas) so that the mix of blurs of the source matches the target; with
// --scales K (or --smooth) it fits a K-scale stack's scale map instead.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "colormap.h"
#include "command.h"
#include "interrupt.h"
#include "options.h"

namespace blurmix {

namespace {

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

class FitCommand : public Command {
public:
    explicit FitCommand(CLI::App &cli)
        : Command(cli.add_subcommand("fit", "fit the mixing weights (and optionally the sigmas) to a target")) {
        app->add_option("--source", source_, "the image to blur")->required();
        app->add_option("--target", target_, "the image to match")->required();
        app->add_option("--sigma-min", opt_.sigma_min)->required();
        app->add_option("--sigma-max", opt_.sigma_max)->required();
        app->add_option("--mode", mode_, "local (a weight per pixel) or global (one weight)")->capture_default_str();
        app->add_option("--iters", opt_.iters)->capture_default_str();
        lr_opt_ = app->add_option("--lr", opt_.adamax.lr, "Adamax learning rate (0.3 with --scales or --smooth)")
                      ->capture_default_str();
        app->add_flag("--learn-sigmas", opt_.learn_sigmas, "fit sigma-min and sigma-max too");
        app->add_option("--out", out_, "directory for fitted image, weights.npy (scale.npy with --scales), "
                                       "sigma.npy, sigma.png");
        app->add_flag("--json", json_, "end with one line of JSON");
        app->add_flag("--quiet", quiet_, "no progress lines");
        app->add_flag("--timings", timings_, "print the seconds of each phase (read, fit, write) on stderr");
        blur_.add(app, opt_.blur);
        input_.add(app);
        add_force_option(app, force_);
        scales_opt_ = app->add_option("--scales", scales_, "K >= 2: a stack of K blurs from sigma-min to "
                                                           "sigma-max, each pixel mixing its two neighbouring scales");
        stack_.add(app, true);
    }

    void resolve() override {
        blur_.resolve();
        in_ = input_.resolve();
        opt_.mode = parse_mode(mode_);
        stack_used_ = scales_opt_->count() > 0 || stack_.smoothing_asked();
        so_ = stack_.resolve(opt_.iters);
        so_.scales = scales_opt_->count() > 0 ? scales_ : 2;  // --smooth alone: the min/max method with the penalty
        if (!stack_used_ && stack_.schedule_given()) {
            throw Error("--smooth-kind and --smooth-iters shape a stack's fit: they need --scales or --smooth");
        }
        if (stack_used_ && lr_opt_->count() == 0) opt_.adamax.lr = kScaleFitLr;
    }

    int run() override {
        using clock = std::chrono::steady_clock;
        auto seconds = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
        const clock::time_point t0 = clock::now();
        Image source, target;
        run_concurrently({[&] { source = load_input(source_, in_); }, [&] { target = load_input(target_, in_); }});
        check_fit_inputs(source, target, opt_);
        if (stack_used_) check_scale_options(opt_, so_);
        const std::string fitted_name =
            std::filesystem::path(source_).extension() == ".png" ? "fitted.png" : "fitted.npy";  // the source's format
        if (!out_.empty()) {
            prepare_output_dir(out_, {fitted_name, "sigma.npy", "sigma.png", stack_used_ ? "scale.npy" : "weights.npy"},
                               force_);
        }
        if (!quiet_) opt_.progress = print_progress;
        // An interrupted fit stops between iterations and its outputs hold the state it reached.
        opt_.should_stop = [] { return interrupt_signal() != 0; };
        const clock::time_point t1 = clock::now();
        FitResult r = stack_used_ ? fit_scales(source, target, opt_, so_) : fit(source, target, opt_);
        const clock::time_point t2 = clock::now();
        if (!out_.empty()) {
            // The fit's freed working images go back to the system before the outputs are
            // written, where the page cache takes them up again: pages the system has not
            // touched for a while cost a VM far more than reused ones (docs/performance.md,
            // "The whole command").
            release_kept_images();
            std::vector<std::function<void()>> writes = {
                [&] { save_output(out_ + "/" + fitted_name, r.fitted, in_); },
                [&] { save_npy(out_ + "/sigma.npy", r.sigma); },
                [&] {
                    save_colormap_png(out_ + "/sigma.png", r.sigma, std::min(r.sigma_min, r.sigma_max),
                                      std::max(r.sigma_min, r.sigma_max), "sigma");
                },
            };
            if (stack_used_) {
                writes.push_back([&] { save_npy(out_ + "/scale.npy", scale_position_of(r.params, so_.scales)); });
            } else {
                writes.push_back([&] { save_npy(out_ + "/weights.npy", r.weights); });
            }
            run_concurrently(writes);
        }
        if (timings_) {
            std::fprintf(stderr, "timings: read %.4f s, fit %.4f s, write %.4f s\n", seconds(t0, t1), seconds(t1, t2),
                         seconds(t2, clock::now()));
        }
        nlohmann::json j = fit_json(r, opt_);
        if (stack_used_) {
            j["scales"] = so_.scales;
            j["sigmas"] = scale_sigmas(opt_.sigma_min, opt_.sigma_max, so_.scales, so_.spacing);
            add_stack_json(j, so_, opt_.iters);
        }
        const int sig = interrupt_signal();  // once: a signal during the saves counts too
        if (sig) {
            j["interrupted"] = true;
            std::cerr << "blurmix: " << Interrupted(sig).what() << " after " << r.iterations << " of " << opt_.iters
                      << " iterations; "
                      << (out_.empty() ? std::string("nothing written (no --out)")
                                       : "the outputs in " + out_ + " hold that state")
                      << std::endl;
        }
        if (json_) std::cout << j.dump() << std::endl;
        return sig ? 128 + sig : 0;
    }

private:
    std::string source_, target_, out_, mode_ = "local";
    bool json_ = false, quiet_ = false, force_ = false, timings_ = false;
    int scales_ = 0;
    CLI::Option *lr_opt_ = nullptr, *scales_opt_ = nullptr;
    FitOptions opt_;
    BlurOptionGroup blur_;
    InputOptionGroup input_;
    StackOptionGroup stack_;
    InputOptions in_;
    bool stack_used_ = false;
    ScaleOptions so_;
};

}  // namespace

std::unique_ptr<Command> add_fit_command(CLI::App &cli) {
    return std::make_unique<FitCommand>(cli);
}

}  // namespace blurmix
