#include "eval.h"

#include <cmath>
#include <cstdio>
#include <iostream>

#include "colormap.h"
#include "driver.h"

namespace blurmix {

ScaleOptions ScaleArgs::options(int iters) const {
    ScaleOptions so = experiment_d_options(iters);
    so.scales = scales > 0 ? scales : 2;
    so.spacing = parse_spacing(spacing);
    if (smooth) so.smooth.weight = *smooth;
    if (smooth_kind) so.smooth.kind = parse_penalty(*smooth_kind);
    if (so.smooth.weight == 0.f) so.smooth.kind = Penalty::none;
    if (smooth_iters) so.smooth_iters = *smooth_iters;
    return so;
}

void add_scale_options(CLI::App *cmd, ScaleArgs &a, bool with_smoothness) {
    cmd->add_option("--scales", a.scales, "K >= 2: a stack of K blurs from sigma-min to sigma-max, each pixel "
                                          "mixing its two neighbouring scales");
    cmd->add_option("--spacing", a.spacing, "even or geometric spacing of the stack's sigmas")->capture_default_str();
    if (!with_smoothness) return;
    cmd->add_option("--smooth", a.smooth, "weight of a smoothness penalty on the fitted scale map (0: none)")
        ->default_str("0.001");
    cmd->add_option("--smooth-kind", a.smooth_kind, "tv (total variation) or quadratic")->default_str("tv");
    cmd->add_option("--smooth-iters", a.smooth_iters,
                    "the penalty holds for this many first iterations, then the fit goes on without it "
                    "(default: half of --iters)");
}

void add_scale_json(nlohmann::json &j, const ScaleOptions &so, const FitOptions &opt) {
    j["scales"] = so.scales;
    j["spacing"] = spacing_name(so.spacing);
    j["sigmas"] = scale_sigmas(opt.sigma_min, opt.sigma_max, so.scales, so.spacing);
    j["smooth"] = so.smooth.weight;
    j["smooth_kind"] = penalty_name(so.smooth.kind);
    j["smooth_iters"] = so.smooth_iters < 0 ? opt.iters : std::min(so.smooth_iters, opt.iters);
}

int run_local_blur(const std::string &in_path, const std::string &out_path, const std::string &map_path,
                   const ScaleArgs &scales, const BlurOptions &opt) {
    Image in = load_image(in_path);
    check_finite(in, in_path);
    Map sigma = load_map(map_path);
    check_sigma_map(sigma, in.width(), in.height(), map_path);
    check_output_path(out_path);
    if (scales.scales > 0) {
        ScaleOptions so = scales.options(0);
        save_image(out_path, scale_blur(in, sigma, so.scales, so.spacing, opt));
    } else {
        save_image(out_path, local_blur(in, sigma, opt));
    }
    return 0;
}

CLI::App *add_eval_command(CLI::App &app, EvalArgs &a) {
    auto cmd = app.add_subcommand("eval", "render the exact local blur of a signal by a sigma map, fit it by the "
                                          "min/max mix and by K-scale stacks, and score each");
    cmd->add_option("--signal", a.signal, "the image to blur (PNG or .npy)")->required();
    cmd->add_option("--sigma-map", a.sigma_map, "the true sigma of every pixel (rows x columns)")->required();
    cmd->add_option("--sigma-min", a.sigma_min, "smallest scale (default: 0.75 x the map's smallest sigma)");
    cmd->add_option("--sigma-max", a.sigma_max, "largest scale (default: 1.25 x the map's largest sigma)");
    cmd->add_option("--scales", a.scales, "one or more K for the stacks")->capture_default_str()->expected(1, 8);
    cmd->add_option("--spacing", a.scale_args.spacing, "even or geometric")->capture_default_str();
    cmd->add_option("--smooth", a.scale_args.smooth, "smoothness weight of the stacks' fits (0: none)")
        ->default_str("0.001");
    cmd->add_option("--smooth-kind", a.scale_args.smooth_kind, "tv or quadratic")->default_str("tv");
    cmd->add_option("--smooth-iters", a.scale_args.smooth_iters,
                    "iterations with the penalty before the free fit (default: half of --iters)");
    cmd->add_option("--iters", a.opt.iters)->capture_default_str();
    cmd->add_option("--lr", a.opt.adamax.lr, "Adamax learning rate of the min/max fit")->capture_default_str();
    cmd->add_option("--scale-lr", a.scale_lr, "Adamax learning rate of the stacks' fits")->capture_default_str();
    cmd->add_option("--repeat", a.repeat, "runs of each fit; the time reported is the best")->capture_default_str();
    cmd->add_option("--std-devs", a.opt.blur.std_devs)->capture_default_str();
    cmd->add_option("--boundary", a.boundary, "zero, clamp or mirror")->capture_default_str();
    cmd->add_option("--device", a.opt.blur.variant.device)->capture_default_str();
    cmd->add_option("--schedule", a.opt.blur.variant.schedule)->capture_default_str();
    cmd->add_option("--out", a.out, "directory for eval.png and the sigma and error maps");
    cmd->add_flag("--json", a.json, "end with one line of JSON");
    cmd->add_flag("--quiet", a.quiet, "no progress lines");
    return cmd;
}

namespace {

nlohmann::json eval_json(const Evaluation &ev, const EvalArgs &a, const ScaleOptions &so) {
    nlohmann::json methods = nlohmann::json::array();
    for (const MethodReport &m : ev.methods) {
        nlohmann::json regions = nlohmann::json::array();
        for (const RegionError &r : m.regions) {
            regions.push_back({{"sigma", std::isnan(r.sigma) ? nlohmann::json() : nlohmann::json(r.sigma)},
                               {"pixels", r.pixels}, {"sigma_mean", r.mean}, {"sigma_mae", r.mae}});
        }
        methods.push_back({{"method", m.name}, {"scales", m.scales}, {"mse", m.mse}, {"sigma_mae", m.sigma_mae},
                           {"seconds", m.fit.seconds}, {"regions", regions},
                           {"time_ratio", m.fit.seconds / ev.methods[0].fit.seconds},
                           {"mse_ratio", ev.methods[0].mse / m.mse}});
    }
    return {{"sigma_min", a.opt.sigma_min}, {"sigma_max", a.opt.sigma_max}, {"iters", a.opt.iters},
            {"lr", a.opt.adamax.lr}, {"scale_lr", a.scale_lr}, {"repeat", a.repeat},
            {"spacing", spacing_name(so.spacing)}, {"smooth", so.smooth.weight},
            {"smooth_kind", penalty_name(so.smooth.kind)}, {"smooth_iters", so.smooth_iters},
            {"target_seconds", ev.target_seconds}, {"methods", methods}};
}

}  // namespace

int run_eval(EvalArgs &a) {
    FILE *text = a.json ? stderr : stdout;
    FitOptions &opt = a.opt;
    opt.blur.boundary = parse_boundary(a.boundary);
    Image signal = load_image(a.signal);
    check_finite(signal, a.signal);
    Map truth = load_map(a.sigma_map);
    check_sigma_map(truth, signal.width(), signal.height(), a.sigma_map);
    float lo = truth(0, 0), hi = lo;
    truth.for_each_value([&](float s) { lo = std::min(lo, s); hi = std::max(hi, s); });
    opt.sigma_min = a.sigma_min.value_or(0.75f * lo);
    opt.sigma_max = a.sigma_max.value_or(1.25f * hi);
    ScaleOptions so = a.scale_args.options(opt.iters);
    check_fit_inputs(signal, signal, opt);
    for (int k : a.scales) {
        so.scales = k;
        check_scale_options(opt, so);
    }
    if (!a.out.empty()) prepare_output_dir(a.out);

    std::fprintf(text, "signal %dx%dx%d, true sigma %.4g..%.4g, scales from %.4g to %.4g (%s), %d iterations\n",
                 signal.width(), signal.height(), signal.channels(), lo, hi, opt.sigma_min, opt.sigma_max,
                 spacing_name(so.spacing), opt.iters);
    auto progress_for = [&](const std::string &name, FitOptions &o) {
        if (a.quiet) return;
        o.progress = [text, name](const FitProgress &p) {
            std::fprintf(text, "%-8s iteration %5d  loss %.6e\n", name.c_str(), p.iteration, p.loss);
        };
    };
    if (!(a.scale_lr > 0.f) || !std::isfinite(a.scale_lr)) {
        throw Error("scale-lr must be a positive number, not " + std::to_string(a.scale_lr));
    }
    Evaluation ev = evaluate(signal, truth, opt, a.scales, so, a.scale_lr, progress_for, a.repeat);

    print_eval_table(text, ev);
    if (!a.out.empty()) {
        save_eval_pictures(a.out, "", ev, truth, opt.sigma_min, opt.sigma_max);
        std::fprintf(text, "pictures in %s/: eval.png, eval_sigma.png, eval_error.png, sigma_*.png, error_*.png\n",
                     a.out.c_str());
    }
    if (a.json) std::cout << eval_json(ev, a, so).dump() << std::endl;
    return 0;
}

}  // namespace blurmix
