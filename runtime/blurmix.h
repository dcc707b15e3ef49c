// The C++ layer over the generated pipelines: what the driver, the tests and the benchmarks call.
// Every failure throws blurmix::Error with a readable message; nothing here aborts.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "definitions.h"
#include "image_io.h"

namespace blurmix {

Boundary parse_boundary(const std::string &name);
const char *boundary_name(Boundary b);

// Which generated library runs a stage: a device and a schedule. Libraries that were not built
// are refused with a message saying how to build them.
struct Variant {
    std::string device = "cpu";
    std::string schedule = "manual";
};
// The variants built of a pipeline.
std::vector<Variant> built_variants(const std::string &pipeline = "blur");
// Variants of a pipeline that were skipped at build time (an autoscheduler that cannot schedule
// it), with the reason.
std::vector<std::pair<Variant, std::string>> skipped_variants(const std::string &pipeline);
// Whether a device's runtime answers here (cpu always; a GPU API when its driver is present and
// a device answers a small allocation). device_status says why not ("" when it does).
bool device_available(const std::string &device);
std::string device_status(const std::string &device);
std::string to_string(const Variant &v);

struct BlurOptions {
    float std_devs = 2.f;
    Boundary boundary = Boundary::zero;
    Variant variant;
};

// half_width(sigma, std_devs), the truncated Gaussian's half-width: definitions.h.
void check_sigma(float sigma, const char *what);

Image blur(const Image &in, float sigma, const BlurOptions &opt = {});
// Into an existing image of the input's size (what the benchmarks time).
void blur(const Image &in, float sigma, const BlurOptions &opt, Image &out);
// The blur and its derivative with respect to sigma.
std::pair<Image, Image> blur_with_derivative(const Image &in, float sigma, const BlurOptions &opt = {});

// x_hat = m A + (1 - m) B with m = sigmoid(logit). logits is width x height, or 1x1 for one
// global logit.
Image mix(const Image &blur_min, const Image &blur_max, const Map &logits, const Variant &v = {});
void mix(const Image &blur_min, const Image &blur_max, const Map &logits, const Variant &v, Image &out);
// Logits of weights in [0, 1] (0 and 1 map to +-30, where sigmoid is 0 or 1 in float).
Map logits_of(const Map &weights);
Map weights_of(const Map &logits);

struct Gradient {
    float loss = 0;
    Map d_logit;               // per pixel
    double d_logit_total = 0;  // for one global logit
    float d_sigma_min = 0, d_sigma_max = 0;  // only with the sigma derivatives
};
// The loss of the mix against target and its gradients. d_blur_min/max (the blurs' sigma
// derivatives) are optional: given, the sigma gradients are computed too.
Gradient mix_gradient(const Image &blur_min, const Image &blur_max, const Map &logits,
                      const Image &target, const Variant &v = {},
                      const Image *d_blur_min = nullptr, const Image *d_blur_max = nullptr);

struct AdamaxParams {
    float lr = 0.1f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
};
// Adamax state for a parameter map; step counts the updates done so far.
struct AdamaxState {
    Map param, exp_avg, exp_inf;
    int step = 0;
    explicit AdamaxState(const Map &initial);
};
void adamax_step(AdamaxState &s, const Map &grad, const AdamaxParams &p, const Variant &v = {});

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

// Images of 8 MiB and more are kept when freed (up to 256 MiB in all) for the next image of the
// same size; this gives them back to the system, for a long-lived program between batches.
void release_kept_images();

void check_fit_inputs(const Image &source, const Image &target, const FitOptions &opt);
FitResult fit(const Image &source, const Image &target, const FitOptions &opt);

// For the runtime's other files (scales.cpp): a generated library by pipeline name and variant
// (refused as lookup does), and a pipeline's return code turned into an Error with Halide's message.
void *find_pipeline(const std::string &pipeline, const Variant &v);
void check_pipeline(int rc, const std::string &what);

}  // namespace blurmix
