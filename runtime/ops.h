// The stages, one call each: the blur (and its sigma derivative), the mix, the mix's loss and
// analytic gradients, one Adamax step. Every call checks its arguments and throws Error naming
// the problem; nothing here aborts.
#pragma once

#include <string>
#include <utility>

#include "checks.h"
#include "definitions.h"
#include "image.h"
#include "variant.h"

namespace blurmix {

// "zero", "clamp" or "mirror" (Boundary: definitions.h).
Boundary parse_boundary(const std::string &name);
const char *boundary_name(Boundary b);

struct BlurOptions {
    float std_devs = 2.f;  // the kernel's half-width: half_width(sigma, std_devs) (definitions.h)
    Boundary boundary = Boundary::zero;
    Variant variant;
};

Image blur(const Image &in, float sigma, const BlurOptions &opt = {});
// Into an existing image of the input's size (what the benchmarks time).
void blur(const Image &in, float sigma, const BlurOptions &opt, Image &out);
// The blur and its derivative with respect to sigma.
std::pair<Image, Image> blur_with_derivative(const Image &in, float sigma, const BlurOptions &opt = {});
// Into existing images of the input's size.
void blur_with_derivative(const Image &in, float sigma, const BlurOptions &opt, Image &out, Image &d_out);

// x_hat = m A + (1 - m) B with m = sigmoid(logit). logits is width x height, or 1x1 for one
// global logit.
Image mix(const Image &blur_min, const Image &blur_max, const Map &logits, const Variant &v = {});
void mix(const Image &blur_min, const Image &blur_max, const Map &logits, const Variant &v, Image &out);
// Logits of weights in [0, 1] (0 and 1 map to +-30, where sigmoid is 0 or 1 in float).
Map logits_of(const Map &weights);
Map weights_of(const Map &logits);
// logits as a width x height map: itself, or one global logit (1x1) seen through zero strides.
// Throws when the sizes differ.
Map logit_view(const Map &logits, int width, int height);

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

}  // namespace blurmix
