// blurmix eval --signal S --sigma-map MAP: renders the exact local blur of a signal by a sigma
// map, fits it by the min/max mix and by K-scale stacks, and scores each (evaluate.h).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "command.h"
#include "eval_report.h"
#include "options.h"

namespace blurmix {

namespace {

class EvalCommand : public Command {
public:
    explicit EvalCommand(CLI::App &cli)
        : Command(cli.add_subcommand("eval", "render the exact local blur of a signal by a sigma map, fit it by the "
                                             "min/max mix and by K-scale stacks, and score each")) {
        app->add_option("--signal", signal_path_, "the image to blur (PNG or .npy)")->required();
        app->add_option("--sigma-map", map_path_, "the true sigma of every pixel (rows x columns)")->required();
        app->add_option("--sigma-min", sigma_min_, "smallest scale (default: 0.75 x the map's smallest sigma)");
        app->add_option("--sigma-max", sigma_max_, "largest scale (default: 1.25 x the map's largest sigma)");
        app->add_option("--scales", scales_, "one or more K for the stacks")->capture_default_str()->expected(1, 8);
        stack_.add(app, true);
        app->add_option("--iters", opt_.iters)->capture_default_str();
        app->add_option("--lr", opt_.adamax.lr, "Adamax learning rate of the min/max fit")->capture_default_str();
        app->add_option("--scale-lr", scale_lr_, "Adamax learning rate of the stacks' fits")->capture_default_str();
        app->add_option("--repeat", repeat_, "runs of each fit; the time reported is the best")->capture_default_str();
        blur_.add(app, opt_.blur);
        input_.add(app);
        app->add_option("--out", out_, "directory for eval.png and the sigma and error maps");
        add_force_option(app, force_);
        app->add_flag("--json", json_, "end with one line of JSON");
        app->add_flag("--quiet", quiet_, "no progress lines");
    }

    void resolve() override {
        blur_.resolve();
        in_ = input_.resolve();
        so_ = stack_.resolve(opt_.iters);
        if (!(scale_lr_ > 0.f) || !std::isfinite(scale_lr_)) {
            throw Error("scale-lr must be a positive number, not " + std::to_string(scale_lr_));
        }
    }

    int run() override {
        FILE *text = json_ ? stderr : stdout;
        Image signal = load_input(signal_path_, in_);
        Map truth = load_input_map(map_path_, in_);
        check_sigma_map(truth, signal.width(), signal.height(), map_path_);
        float lo = truth(0, 0), hi = lo;
        truth.for_each_value([&](float s) { lo = std::min(lo, s); hi = std::max(hi, s); });
        opt_.sigma_min = sigma_min_.value_or(0.75f * lo);
        opt_.sigma_max = sigma_max_.value_or(1.25f * hi);
        check_fit_inputs(signal, signal, opt_);
        for (int k : scales_) {
            so_.scales = k;
            check_scale_options(opt_, so_);
        }
        if (!out_.empty()) prepare_output_dir(out_, eval_picture_names("", scales_), force_);

        std::fprintf(text, "signal %dx%dx%d, true sigma %.4g..%.4g, scales from %.4g to %.4g (%s), %d iterations\n",
                     signal.width(), signal.height(), signal.channels(), lo, hi, opt_.sigma_min, opt_.sigma_max,
                     spacing_name(so_.spacing), opt_.iters);
        auto progress_for = [&](const std::string &name, FitOptions &o) {
            if (quiet_) return;
            o.progress = [text, name](const FitProgress &p) {
                std::fprintf(text, "%-8s iteration %5d  loss %.6e\n", name.c_str(), p.iteration, p.loss);
            };
        };
        Evaluation ev = evaluate(signal, truth, opt_, scales_, so_, scale_lr_, progress_for, repeat_);

        print_eval_table(text, ev);
        if (!out_.empty()) {
            save_eval_pictures(out_, "", ev, truth, opt_.sigma_min, opt_.sigma_max);
            std::fprintf(text, "pictures in %s/: eval.png, eval_sigma.png, eval_error.png, sigma_*.png, error_*.png\n",
                         out_.c_str());
        }
        if (json_) std::cout << eval_json(ev).dump() << std::endl;
        return 0;
    }

private:
    nlohmann::json eval_json(const Evaluation &ev) const {
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
        nlohmann::json j = {{"sigma_min", opt_.sigma_min}, {"sigma_max", opt_.sigma_max}, {"iters", opt_.iters},
                            {"lr", opt_.adamax.lr}, {"scale_lr", scale_lr_}, {"repeat", repeat_},
                            {"target_seconds", ev.target_seconds}, {"methods", methods}};
        add_stack_json(j, so_, opt_.iters);
        return j;
    }

    std::string signal_path_, map_path_, out_;
    std::optional<float> sigma_min_, sigma_max_;  // default 0.75 x the map's smallest, 1.25 x its largest
    std::vector<int> scales_ = {7};
    float scale_lr_ = kScaleFitLr;
    int repeat_ = 1;
    bool json_ = false, quiet_ = false, force_ = false;
    FitOptions opt_;
    BlurOptionGroup blur_;
    InputOptionGroup input_;
    StackOptionGroup stack_;
    InputOptions in_;
    ScaleOptions so_;
};

}  // namespace

std::unique_ptr<Command> add_eval_command(CLI::App &cli) {
    return std::make_unique<EvalCommand>(cli);
}

}  // namespace blurmix
