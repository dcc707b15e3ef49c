// blurmix demo: the seed notebook's experiments, with its printed numbers and its figures, and
// experiment D (the exact local blur, fitted by min/max and by K-scale stacks).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "colormap.h"
#include "command.h"
#include "eval_report.h"
#include "experiments.h"
#include "interrupt.h"
#include "options.h"

namespace blurmix {

namespace {

// Each tile stretched to its own range, as the notebook's imshow does.
Image stretched(const Image &im) {
    float lo = im(0, 0, 0), hi = lo;
    im.for_each_value([&](float v) { lo = std::min(lo, v); hi = std::max(hi, v); });
    Image out(im.width(), im.height(), im.channels());
    out.for_each_element([&](int x, int y, int c) { out(x, y, c) = hi > lo ? (im(x, y, c) - lo) / (hi - lo) : 0.5f; });
    return out;
}

const std::vector<int> kDemoStacks = {4, 7};  // experiment D's K
const char *const kPrefixD = "d_";

class DemoCommand : public Command {
public:
    explicit DemoCommand(CLI::App &cli)
        : Command(cli.add_subcommand("demo", "the seed notebook's experiments A, B and C on its 64x64 signal, and "
                                             "experiment D (the exact local blur)")) {
        app->add_option("--out", out_, "directory for the pictures")->capture_default_str();
        app->add_option("--iters", iters_)->capture_default_str();
        app->add_flag("--json", json_, "one JSON line per experiment");
        add_variant_options(app, variant_);
        add_force_option(app, force_);
    }

    void resolve() override {}

    int run() override {
        // With --json, stdout carries only the JSON lines; the narrative goes to stderr.
        FILE *text = json_ ? stderr : stdout;
        std::vector<std::string> pictures = {"a_mix.png", "c_recovery.png", "c_sigma.png"};
        for (const std::string &name : eval_picture_names(kPrefixD, kDemoStacks)) pictures.push_back(name);
        prepare_output_dir(out_, pictures, force_);
        const Image signal = seed_signal();
        FitOptions base;
        base.iters = iters_;
        base.blur.variant = variant_;
        // Interrupted, the demo keeps the pictures already written and writes no more.
        base.should_stop = [] { return interrupt_signal() != 0; };

        ExperimentA a = experiment_a(signal, variant_);
        std::fprintf(text, "A: mix of blur 1 and blur 5 at weight 0.5 against the true blur 3: MSE %.6g\n", a.mse);
        save_panel_png(out_ + "/a_mix.png",
                       {{"signal", stretched(signal)}, {"true (3)", stretched(a.truth)},
                        {"mixed (1, 5)", stretched(a.mixed)}}, 0.f, 1.f);

        auto progress = [text](const std::string &name) {
            return [text, name](const FitProgress &p) {
                std::fprintf(text, "%s: iteration %4d  loss %.6e\n", name.c_str(), p.iteration, p.loss);
            };
        };
        base.progress = progress("B");
        ExperimentB b = experiment_b(signal, base);
        throw_if_interrupted();
        std::fprintf(text, "B: global fit, sigma 3 and 9 against the true blur 3: weight %.6f, recovered sigma %.6f\n",
                     b.weight, b.recovered_sigma);

        base.progress = progress("C");
        base.snapshots = {0, 4, 16, iters_ - 1};
        ExperimentC c = experiment_c(signal, base);
        throw_if_interrupted();
        std::fprintf(text, "C: local fit, left sigma 4 and right sigma 7: mean recovered sigma left %.4f, right %.4f\n",
                     c.sigma_left_mean, c.sigma_right_mean);
        Image lo = blur(signal, 3.f), hi = blur(signal, 9.f);
        std::vector<std::pair<std::string, Image>> tiles = {{"target", stretched(c.target)}};
        for (auto &[iter, weights] : c.fit.snapshots) {
            tiles.push_back({"iteration " + std::to_string(iter), stretched(mix(lo, hi, logits_of(weights)))});
        }
        save_panel_png(out_ + "/c_recovery.png", tiles, 0.f, 1.f);
        save_colormap_png(out_ + "/c_sigma.png", c.fit.sigma, 3.f, 9.f, "sigma");

        // D: case C with the target from the exact local blur, by min/max and by K = 4 and 7 stacks.
        base.snapshots = {};
        Evaluation d = experiment_d(signal, base, kDemoStacks, [&](const std::string &name, FitOptions &o) {
            o.progress = progress("D " + name);
        });
        std::fprintf(text, "D: exact local blur, left sigma 4 and right sigma 7, fitted with scales from 3 to 9:\n");
        print_eval_table(text, d);
        save_eval_pictures(out_, kPrefixD, d, experiment_d_sigma(signal.width(), signal.height()), 3.f, 9.f);

        if (json_) {
            nlohmann::json dj = {{"experiment", "D"}};
            for (const MethodReport &m : d.methods) {
                dj[m.name] = {{"mse", m.mse}, {"sigma_left_mean", m.regions[0].mean},
                              {"sigma_right_mean", m.regions[1].mean}, {"sigma_left_mae", m.regions[0].mae},
                              {"sigma_right_mae", m.regions[1].mae}, {"seconds", m.fit.seconds}};
            }
            std::cout << nlohmann::json{{"experiment", "A"}, {"mse", a.mse}}.dump() << "\n"
                      << nlohmann::json{{"experiment", "B"}, {"loss_final", b.fit.losses.back().loss},
                                        {"weight", b.weight}, {"recovered_sigma", b.recovered_sigma}}.dump() << "\n"
                      << nlohmann::json{{"experiment", "C"}, {"loss_final", c.fit.losses.back().loss},
                                        {"sigma_left_mean", c.sigma_left_mean},
                                        {"sigma_right_mean", c.sigma_right_mean}}.dump() << "\n"
                      << dj.dump() << std::endl;
        }
        std::fprintf(text, "pictures in %s/: a_mix.png, c_recovery.png, c_sigma.png, d_eval*.png, d_sigma_*.png, "
                           "d_error_*.png\n", out_.c_str());
        return 0;
    }

private:
    std::string out_ = "demo-out";
    int iters_ = 1000;
    bool json_ = false, force_ = false;
    Variant variant_;
};

}  // namespace

std::unique_ptr<Command> add_demo_command(CLI::App &cli) {
    return std::make_unique<DemoCommand>(cli);
}

}  // namespace blurmix
