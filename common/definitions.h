// What the generators and the runtime layer must agree on, defined once for both sides of the
// generator/runtime line: plain C++, no Halide. The generators take the enums as integer
// parameters (their values); the runtime passes them.
#pragma once

namespace blurmix {

// How an image is extended past its edges: zero padding, clamp to the edge pixel, or mirror with
// the edge pixel repeated (numpy's 'symmetric').
enum class Boundary : int { zero = 0, clamp = 1, mirror = 2 };

// The smoothness penalty of the K-scale fit on neighbouring scale positions.
enum class Penalty : int { none = 0, tv = 1, quadratic = 2 };

// The kernel's half-width, max(1, ceil(std_devs * sigma)), computed in double as the seed's Python
// does (so that 2.5 * 0.4 lands on the same integer). Written once over the arithmetic A, which
// the runtime instantiates with plain numbers (HostArithmetic below) and the generators with
// Halide expressions. The ceiling is spelled with a truncation and a compare, not ceil(), so that
// with the estimates substituted Halide's simplifier folds it to a constant: the autoschedulers
// need constant reduction extents.
template <typename A, typename Real>
auto kernel_half_width(const Real &sigma, const Real &std_devs) {
    auto v = A::to_double(std_devs) * A::to_double(sigma);
    auto t = A::trunc_to_int(v);  // v > 0: truncation is the floor
    return A::max(A::select(A::to_double(t) < v, t + 1, t), 1);
}

struct HostArithmetic {
    static double to_double(double v) { return v; }
    static int trunc_to_int(double v) { return (int)v; }
    static int select(bool c, int a, int b) { return c ? a : b; }
    static int max(int a, int b) { return a > b ? a : b; }
};

inline int half_width(float sigma, float std_devs) {
    return kernel_half_width<HostArithmetic, double>(sigma, std_devs);
}

// Iterations of the smoothed K-scale fit run per call of scale_smooth_steps (its generator's
// steps_per_call; it refuses more). The penalty couples neighbouring pixels, so a call of T steps
// recomputes halos growing by one pixel a step; one step a call measured fastest (see the
// generator's comment).
constexpr int kSmoothStepsPerCall = 1;

}  // namespace blurmix
