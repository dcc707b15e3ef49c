// The driver's parts for the local blur and the K-scale stack: `blur --sigma-map`, the scale
// options of `fit`, and `eval`.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval_report.h"
#include "evaluate.h"

namespace blurmix {

// fit's options for the stack; scales 0 (not given) keeps the min/max method unless a smoothness
// weight is given, which uses the 2-scale stack (the same method, with the penalty). The parts of
// the smoothness schedule not given are those of eval and experiment D (experiment_d_options:
// total variation, weight 1e-3, for the first half of the iterations); --smooth 0 turns it off.
struct ScaleArgs {
    int scales = 0;
    std::string spacing = "geometric";
    std::optional<float> smooth;
    std::optional<std::string> smooth_kind;
    std::optional<int> smooth_iters;
    bool used() const { return scales > 0 || smooth.value_or(0.f) > 0.f; }
    ScaleOptions options(int iters) const;
};
void add_scale_options(CLI::App *cmd, ScaleArgs &args, bool with_smoothness);
// fit's JSON with the stack's fields added.
void add_scale_json(nlohmann::json &j, const ScaleOptions &so, const FitOptions &opt);

// blur IN OUT --sigma-map MAP [--scales K]: the exact local blur, or its K-scale approximation.
int run_local_blur(const std::string &in_path, const std::string &out_path, const std::string &map_path,
                   const ScaleArgs &scales, const BlurOptions &opt);

struct EvalArgs {
    std::string signal, sigma_map, out;
    std::optional<float> sigma_min, sigma_max;  // default 0.75 x the map's smallest, 1.25 x its largest
    std::vector<int> scales = {7};
    std::string boundary = "zero";
    bool json = false, quiet = false;
    float scale_lr = kScaleFitLr;
    int repeat = 1;
    ScaleArgs scale_args;
    FitOptions opt;
};
CLI::App *add_eval_command(CLI::App &app, EvalArgs &args);
int run_eval(EvalArgs &args);
}  // namespace blurmix
