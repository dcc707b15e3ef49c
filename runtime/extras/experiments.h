// The seed notebook's three experiments on its own 64x64 signal (built into the library):
// A, a fixed mix against the true blur; B, a global fit; C, a local fit.
#pragma once

#include "blurmix.h"

namespace blurmix {

Image seed_signal();  // 64x64x1, the notebook's signal

struct ExperimentA {
    Image truth, mixed;  // blur 3; the mix of blur 1 and blur 5 at weight 0.5
    double mse;
};
ExperimentA experiment_a(const Image &signal, const Variant &v = {});

struct ExperimentB {
    Image truth;  // blur 3: the target
    FitResult fit;
    float weight, recovered_sigma;
};
// Global fit, s_min 3 and s_max 9, against blur 3. base carries iters, lr, variant, progress.
ExperimentB experiment_b(const Image &signal, FitOptions base);

struct ExperimentC {
    Image target;  // left half blurred with sigma 4, right half with sigma 7
    FitResult fit;
    float sigma_left_mean, sigma_right_mean;
};
ExperimentC experiment_c(const Image &signal, FitOptions base);

}  // namespace blurmix
