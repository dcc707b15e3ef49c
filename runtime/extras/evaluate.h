// How well the min/max mix and K-scale stacks recover a known spatially varying blur: the target
// is the exact local blur of a signal by a sigma map; each method is fitted to it and scored.
// Used by `blurmix eval` and by the demo's experiment D.
#pragma once

#include <string>
#include <vector>

#include "scales.h"

namespace blurmix {

// Recovered sigma against the truth over one region of the map: the pixels that share one true
// sigma (when the map has at most 16 distinct values), or the whole map (sigma NaN) otherwise.
struct RegionError {
    float sigma;         // the true sigma of the region
    long pixels;
    double mean;         // mean recovered sigma
    double mae;          // mean absolute error of the recovered sigma
};
std::vector<RegionError> region_errors(const Map &truth, const Map &recovered);

struct MethodReport {
    std::string name;    // "min/max" or "K-scale"
    int scales;          // 2 for min/max
    FitResult fit;
    double mse;          // mean squared residual of the fitted render against the target
    double sigma_mae;    // over the whole map
    std::vector<RegionError> regions;
};

struct Evaluation {
    Image target;        // the exact local blur
    double target_seconds;
    std::vector<MethodReport> methods;  // min/max first, then one per entry of scales
};

// base carries s_min, s_max, iters, lr (of the min/max fit), blur options and variant; the
// stacks' fits use scale_lr. progress_for, when given, may set each method's progress callback.
// Each fit runs repeat times; the result is the last, the time the best.
Evaluation evaluate(const Image &signal, const Map &sigma, const FitOptions &base,
                    const std::vector<int> &scales, const ScaleOptions &so, float scale_lr = kScaleFitLr,
                    const std::function<void(const std::string &, FitOptions &)> &progress_for = {},
                    int repeat = 1);

// The demo's experiment D: the seed's signal and case C's halves (left sigma 4, right sigma 7),
// but the target is the exact local blur; fitted by min/max (3, 9) as the seed does, and by K = 4
// and 7 stacks (geometric, lr kScaleFitLr), with total variation 1e-3 for the first half of the
// iterations.
// Each pixel's own loss has several minima in its scale (a blurred pixel's value is not monotone
// in sigma), and without the penalty many pixels settle in a wrong one (K = 7: 4.69 and 6.78
// instead of 4 and 7); the penalty first fits a smooth map, then the pixels are refined alone.
Map experiment_d_sigma(int width, int height);
Evaluation experiment_d(const Image &signal, const FitOptions &base, const std::vector<int> &scales = {4, 7},
                        const std::function<void(const std::string &, FitOptions &)> &progress_for = {});

}  // namespace blurmix
