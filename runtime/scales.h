// Beyond min/max: the exact spatially varying blur, and the K-scale stack that approximates it
// and fits it (issue 5). Every failure throws blurmix::Error with a readable message.
#pragma once

#include <string>
#include <vector>

#include "fit.h"

namespace blurmix {

// (check_sigma_map: checks.h.)

// The exact spatially varying Gaussian blur: pixel p blurred with its own sigma(p), one kernel
// half-width max(1, ceil(std_devs * max sigma)) for the image, normalized taps, the boundary rule
// of opt (zero padding by default). Computed directly in 2-D: (2R+1)(R+1) multiply-adds a pixel.
Image local_blur(const Image &in, const Map &sigma, const BlurOptions &opt = {});

enum class Spacing { even, geometric };
Spacing parse_spacing(const std::string &name);
const char *spacing_name(Spacing s);
// K >= 2 sigmas from s_min to s_max (both included), evenly or geometrically spaced.
std::vector<float> scale_sigmas(float s_min, float s_max, int scales, Spacing spacing);

// The K blurs of an image, (x, y, c, k), each the ordinary separable blur with its own half-width.
using Stack = Halide::Runtime::Buffer<float, 4>;
Stack scale_stack(const Image &in, const std::vector<float> &sigmas, const BlurOptions &opt = {});

// The scale parameter z of each pixel (see generators/scale_stack.h): the scale position is
// u = (K - 1) sigmoid(-z), and the pixel mixes scales floor(u) and floor(u) + 1.
// z of a sigma map (values clamped into [s_0, s_{K-1}]; the ends map to z = +-30), and back.
Map scale_params_of(const Map &sigma, const std::vector<float> &sigmas);
Map sigma_of_scale_params(const Map &z, const std::vector<float> &sigmas);
Map scale_position_of(const Map &z, int scales);  // u in [0, K - 1]

Image scale_mix(const Stack &stack, const Map &z, const Variant &v = {});
// The K-scale approximation of local_blur: the stack spans the map's range (which must not be
// constant) and each pixel mixes the two scales around its sigma.
Image scale_blur(const Image &in, const Map &sigma, int scales, Spacing spacing, const BlurOptions &opt = {});

// Smoothness of the fitted scale map: a penalty on neighbouring scale positions (u / (K - 1), in
// [0, 1]), total variation or quadratic, times weight, over the number of pixels.
// (Penalty: definitions.h.)
Penalty parse_penalty(const std::string &name);
const char *penalty_name(Penalty p);
struct Smoothness {
    Penalty kind = Penalty::none;
    float weight = 0.f;
};

struct ScaleGradient {
    float loss = 0;     // mean squared error of the render against the target
    float penalty = 0;  // the smoothness penalty
    Map d_z;            // d (loss + penalty) / d z
};
ScaleGradient scale_mix_gradient(const Stack &stack, const Map &z, const Image &target,
                                 const Smoothness &smooth = {}, const Variant &v = {});

struct ScaleOptions {
    int scales = 7;
    Spacing spacing = Spacing::geometric;
    Smoothness smooth;
    // The penalty holds for the first smooth_iters iterations (all when < 0), then the fit goes on
    // without it: a smooth map first, out of the per-pixel local minima, then each pixel refined.
    int smooth_iters = -1;
    Map initial;  // z to start from (width x height); empty: 0, the middle of the range
};
void check_scale_options(const FitOptions &opt, const ScaleOptions &so);

// The schedule a K-scale fit of iters iterations needs to get out of the per-pixel minima (a
// blurred pixel's value is not monotone in sigma, so each pixel's own loss has several): total
// variation of weight 1e-3 for the first half of the iterations, then each pixel refined alone;
// geometric spacing, 7 scales. What `blurmix fit --scales`, `eval` and the demo's experiment D use.
// (Experiment D, K = 7: 4.19 and 6.99 for a true 4 and 7 with it, 4.68 and 6.83 without.)
ScaleOptions smoothed_scale_options(int iters);

// The learning rate the driver uses for the stack's fit when none is given. Adamax divides each
// step by the largest gradient a pixel has seen, and a pixel's gradient is the difference of two
// neighbouring scales, small when the scales are close: at the seed's 0.1 a 7-scale fit of 512x512
// noise to a left 4 / right 7 map had not converged after 1000 iterations (sigma right 6.47),
// at 0.3 it had (6.90).
constexpr float kScaleFitLr = 0.3f;

// Fits z (from 0: the middle of the range) by Adamax so that the K-scale render matches target.
// Uses opt's sigma_min, sigma_max (the range of the stack), iters, adamax, blur, progress,
// report_every, snapshots, loss_at, should_stop and fused; local mode only, sigmas not learned.
// Fused (the default): the segment moments once, then runs of iterations in one call each
// (scale_steps, or scale_smooth_steps while the penalty holds), cut at the recorded iterations
// and where the penalty ends; not fused: one gradient and one Adamax step per iteration (the
// reference). In the result: params = z (for K = 2, sigmoid(z) is the seed's weight of the small
// blur), sigma the recovered map, sigma_min and sigma_max the ends of the stack,
// losses the objective (MSE plus penalty while it holds): every iteration's when not fused, the
// recorded ones' (as fit's) when fused. The result's params is z; its logits and weights are empty.
FitResult fit_scales(const Image &source, const Image &target, const FitOptions &opt, const ScaleOptions &so);

}  // namespace blurmix
