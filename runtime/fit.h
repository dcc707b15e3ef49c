// The fitter: the mix's weights (and optionally its two sigmas) learned by Adamax so that the
// mix matches a target, as the seed notebook's PyTorch loop does; fused pipelines by default.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "ops.h"

namespace blurmix {

enum class Mode { local, global };
Mode parse_mode(const std::string &name);

struct FitProgress {
    int iteration;  // 0-based; loss is the loss before this iteration's update
    float loss;
    float sigma_min, sigma_max;
};

struct FitOptions {
    Mode mode = Mode::local;
    float sigma_min = 3.f, sigma_max = 9.f;
    bool learn_sigmas = false;
    int iters = 1000;
    AdamaxParams adamax;
    BlurOptions blur;  // std_devs, boundary and the variant for every stage
    int report_every = 100;
    std::function<void(const FitProgress &)> progress;  // called every report_every iterations and at the last
    std::vector<int> snapshots;  // iterations whose weight maps are kept (before that iteration's update)
    std::vector<int> loss_at;    // iterations whose loss is recorded besides the reported ones
    // Asked between iterations (between fused runs of them); true stops the fit there, and
    // the result holds the state reached (FitResult::iterations < iters).
    std::function<bool()> should_stop;
    // Run the iterations in the fused pipelines rather than one mix gradient and one Adamax
    // step per iteration: with fixed sigmas fit_moments and fit_steps, with learned sigmas in
    // local mode one fit_sigma_step per iteration. Both give the same trajectory; the
    // step-by-step loop is the reference (and the path for learned sigmas in global mode).
    bool fused = true;
};

struct LossPoint {
    int iteration;
    float loss;
};

struct FitResult {
    // Min/max fits: the logits, width x height (local) or 1x1 (global), and the weights of the
    // small blur, sigmoid of the logits. Empty (no data) for K-scale fits, which have no weights.
    Map logits;
    Map weights;
    // K-scale fits (fit_scales): the scale parameter z of each pixel (see scales.h); empty for
    // min/max fits.
    Map params;
    Map sigma;       // width x height: w s_min + (1 - w) s_max
    Image fitted;    // the mix with the final weights
    // The loss before the update of each recorded iteration: every iteration in the step-by-step
    // loop; the reported ones, snapshots, loss_at and the last in the fused one. Ascending.
    std::vector<LossPoint> losses;
    float sigma_min, sigma_max; // final (moved only with learn_sigmas)
    int iterations = 0;         // updates done: iters, or fewer when should_stop ended the fit
    std::vector<std::pair<int, Map>> snapshots;  // (iteration, weights)
    double seconds = 0;
};

// The recorded loss at an iteration; throws if it was not recorded.
float loss_at(const FitResult &r, int iteration);

void check_fit_inputs(const Image &source, const Image &target, const FitOptions &opt);
FitResult fit(const Image &source, const Image &target, const FitOptions &opt);

}  // namespace blurmix
