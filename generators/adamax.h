// PyTorch's Adamax as pure Halide definitions: one step of a parameter's state, the state's
// layout in the buffers the runtime passes, and the fused fits' loop of many steps per pixel.
// Nothing here schedules (schedule.h's schedule_fused_steps schedules the loop).
#pragma once

#include <functional>

#include "Halide.h"

namespace blurmix::gen {

using namespace Halide;

// PyTorch's Adamax step: exp_avg = b1 exp_avg + (1 - b1) g; exp_inf = max(b2 exp_inf, |g| + eps);
// p -= lr / (1 - b1^step) * exp_avg / exp_inf. The bias correction is in double, as in Python.
struct AdamaxState {
    Expr param, exp_avg, exp_inf;
};

inline Expr adamax_rate(Expr step, Expr lr, Expr beta1) {
    return cast<float>(cast<double>(lr) / (Expr(1.0) - pow(cast<double>(beta1), cast<double>(step))));
}

// clr is adamax_rate(step, lr, beta1), passed in so that a loop over steps can tabulate it.
inline AdamaxState adamax(AdamaxState s, Expr grad, Expr clr, Expr beta1, Expr beta2, Expr eps) {
    AdamaxState n;
    n.exp_avg = s.exp_avg * beta1 + grad * (1.f - beta1);
    n.exp_inf = max(s.exp_inf * beta2, abs(grad) + eps);
    n.param = s.param - clr * (n.exp_avg / n.exp_inf);
    return n;
}

// A map's state as the runtime stores it: planes j = 0, 1, 2 (param, exp_avg, exp_inf) of an
// (x, y, 3) buffer.
inline AdamaxState state_at(Func planes, Expr x, Expr y) {
    return {planes(x, y, 0), planes(x, y, 1), planes(x, y, 2)};
}

inline Expr state_plane(const AdamaxState &s, Expr j) {
    return mux(j, {s.param, s.exp_avg, s.exp_inf});
}

// The Adamax state among the first three values of a Tuple-valued state.
inline AdamaxState adamax_state(const Tuple &t) { return {t[0], t[1], t[2]}; }

// The fused fits' loop (fit_steps, scale_steps): `steps` Adamax iterations of every pixel at
// once, each pixel on its own trajectory (its gradient depends on nothing else), from the state
// in `start` after first_step steps. state(x, y) is (param, exp_avg, exp_inf, derived(param)):
// the value the gradient is a function of (a sigmoid of param) is carried, so that each step
// evaluates it, an exp, once. gradient(derived) is d loss / d param at that state (the
// generator's x and y name the pixel). rate(i) is step i's bias-corrected rate, tabulated once.
struct FusedSteps {
    Func rate, state;
};

inline FusedSteps fused_steps(Func start, Expr first_step, Expr steps, Expr lr, Expr beta1,
                              Expr beta2, Expr eps, const std::function<Expr(Expr)> &derived,
                              const std::function<Expr(Expr)> &gradient, const std::string &name) {
    Var x("x"), y("y"), i("i");
    FusedSteps f;
    f.rate = Func("rate");
    f.rate(i) = adamax_rate(first_step + i + 1, lr, beta1);
    RDom r(0, steps, "r");
    f.state = Func(name);
    AdamaxState s = state_at(start, x, y);
    f.state(x, y) = Tuple(s.param, s.exp_avg, s.exp_inf, derived(s.param));
    AdamaxState next = adamax(adamax_state(f.state(x, y)), gradient(f.state(x, y)[3]), f.rate(r),
                              beta1, beta2, eps);
    f.state(x, y) = Tuple(next.param, next.exp_avg, next.exp_inf, derived(next.param));
    return f;
}

}  // namespace blurmix::gen
