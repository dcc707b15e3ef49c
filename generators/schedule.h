// Schedule choices shared by the generators. The algorithms live in the headers by concept
// (taps_and_blur.h, mix_and_loss.h, ...); a generator's schedule part picks one of these by its
// `schedule` parameter, or leaves everything to the autoscheduler named at build time.
#pragma once

#include "Halide.h"

namespace blurmix::gen {

using namespace Halide;

// naive: every Func at root, no vectorization or threads: the baseline that others are timed against.
// manual: the hand-written schedules below, CPU SIMD or GPU according to the target.
enum class Schedule { naive, manual };

inline const std::map<std::string, Schedule> schedule_names = {
    {"naive", Schedule::naive},
    {"manual", Schedule::manual},
};

// Estimates for the autoschedulers: a 1024x1024 image.
// One channel: autoscheduled tiles of c wider than an image's channel count are refused at run time
// (a grey image would fail a schedule tuned for RGB).
constexpr int kEstimateWidth = 1024, kEstimateHeight = 1024, kEstimateChannels = 1;

// The estimates of the fused fits' state and step inputs, which fit_steps, scale_steps and
// scale_smooth_steps name alike: `steps` steps at learning rate lr.
template <typename StepsGenerator>
void estimate_fused_steps(StepsGenerator &g, int steps, float lr) {
    const Region planes = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, 3}};
    g.state_in.set_estimates(planes);
    g.state_out.set_estimates(planes);
    g.first_step.set_estimate(0);
    g.steps.set_estimate(steps);
    g.lr.set_estimate(lr);
    g.beta1.set_estimate(0.9f);
    g.beta2.set_estimate(0.999f);
    g.eps.set_estimate(1e-8f);
    g.inv_n.set_estimate(1e-6f);
}

// A per-pixel stage (over x and y) on a GPU: tiles of 32x8 threads, a thread a pixel.
inline Stage gpu_tiles(Stage s) {
    Var x("x"), y("y"), xo("xo"), yo("yo"), xi("xi"), yi("yi");
    return s.gpu_tile(x, y, xo, yo, xi, yi, 32, 8, TailStrategy::GuardWithIf);
}

// The same on the CPU: strips of 16 rows in parallel, x in vectors of vec.
inline Stage parallel_rows(Stage s, int vec) {
    Var x("x"), y("y"), yo("yo"), yi("yi");
    return s.split(y, yo, yi, 16, TailStrategy::GuardWithIf)
        .parallel(yo)
        .vectorize(x, vec, TailStrategy::GuardWithIf);
}

// A per-pixel render out(x, y, c) (mix, scale_mix): on a GPU in gpu_tiles, the channels over
// blocks too; on the CPU parallel_rows, x at twice the natural vector width, specialized on
// `cpu_case` where that is defined. The min/max mix's render measured as memory bound.
inline void schedule_render(const Target &target, Func out, Expr cpu_case = Expr()) {
    if (target.has_gpu_feature()) {
        gpu_tiles(out).gpu_blocks(out.args()[2]);
        return;
    }
    parallel_rows(out, target.natural_vector_size<float>() * 2);
    if (cpu_case.defined()) out.specialize(cpu_case);
}

inline void compute_all_root(std::initializer_list<Func> funcs) {
    for (Func f : funcs) {
        f.compute_root();
    }
}

// A per-row sum rows(..., y) += f(rx, ...) on the CPU: rows in parallel, vectorized by rfactor
// over a lane index.
inline void vectorized_row_sum(Func rows, int vec) {
    RVar rx = rows.rvars(0)[0];
    RVar rxo("rxo"), rxi("rxi");
    Var u("u");
    Var row = rows.args().back(), ro("ro"), ri("ri");
    rows.compute_root();
    Func lanes = rows.update().split(rx, rxo, rxi, vec, TailStrategy::GuardWithIf).rfactor(rxi, u);
    // Eight rows a task: the update has a schedule of its own (the sums ran on one thread when
    // only the pure definition was parallel), and a task per row cost more than a 64x64
    // image's rows.
    rows.update().split(row, ro, ri, 8, TailStrategy::GuardWithIf).parallel(ro);
    lanes.compute_at(rows, ri).vectorize(u);
    lanes.update().vectorize(u);
}

// The same, each row's sum computed inside the loop over strips of strip_h rows of `parent`
// (compute_with at its loop `strip`, which must be a parallel split of its y by strip_h), so
// that the sums read what parent's strip computed while it is still in cache.
// Returns the per-lane intermediate, for a caller that schedules it further.
inline Func fused_row_sum(Func rows, int vec, Func parent, Var strip, int strip_h) {
    RVar rx = rows.rvars(0)[0];
    RVar rxo("rxo"), rxi("rxi");
    Var u("u");
    Var row = rows.args().back(), yi("yi");
    rows.compute_root();
    Func lanes = rows.update().split(rx, rxo, rxi, vec, TailStrategy::GuardWithIf).rfactor(rxi, u);
    for (Stage st : {Stage(rows), rows.update()}) {
        st.split(row, strip, yi, strip_h, TailStrategy::GuardWithIf).parallel(strip).compute_with(parent, strip);
    }
    lanes.compute_at(rows, yi).vectorize(u);
    lanes.update().vectorize(u);
    return lanes;
}

// The fused step loops on the CPU: each vector of pixels runs all its steps with its state in
// registers (the step loop inside), strips of 4 rows in parallel.
// out(x, y, j) holds the state planes j; state(x, y) is the Tuple the steps update over r.
// A step is one dependency chain of about 100 cycles (an exp, two divisions), so `chains`
// vectors step together: along a row where the image is that wide, else over `rows` rows.
// Measured on the 2-core Zen 4 machine, fit_steps x100 in one binary: 4 vectors along a row
// 0.28 ns a pixel-step at 1024x1024 and 2048x2048; 8 along a row 0.24 (14% faster), but on a
// 64x64 image, whose rows are 4 vectors, 2.6x slower; there 2 vectors x 4 rows are 15% faster
// than 4 x 1 row (4 x 2 rows: 9%). 16 chains spill and are slower.
// `also`, where defined, is a further condition both cases are specialized on.
inline void schedule_steps_cpu(Func out, Func state, int vec, int chains, int rows,
                               Expr also = Expr()) {
    Var x = out.args()[0], y = out.args()[1], j = out.args()[2];
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), yv("yv");
    auto tile = [&](Stage s, int along, int across) {
        s.split(y, yo, yi, 4, TailStrategy::GuardWithIf).parallel(yo)
            .split(yi, yi, yv, across, TailStrategy::GuardWithIf)
            .split(x, xo, xi, vec * along, TailStrategy::GuardWithIf)
            .reorder(j, xi, yv, xo, yi, yo).vectorize(xi).vectorize(yv);
    };
    out.reorder(j, x, y).unroll(j);
    if (rows > 1) {
        Stage wide = out.specialize(out.output_buffer().width() >= vec * chains);
        tile(wide, chains, 1);
        if (also.defined()) wide.specialize(also);
    }
    tile(out, std::max(1, chains / rows), rows);
    if (also.defined()) out.specialize(also);
    RVar r = state.rvars(0)[0];
    Var sx = state.args()[0], sy = state.args()[1];
    state.compute_at(out, xo).vectorize(sx).vectorize(sy);
    state.update().reorder(sx, sy, r).vectorize(sx).vectorize(sy);
}

// The same on a GPU, in two stages: 32 threads per row sum strided columns (adjacent threads,
// adjacent addresses), then one thread per row adds its 32 partial sums. Totals over rows are
// left to the host, in double (OpenCL devices need not have doubles).
inline void gpu_row_sum(Func rows) {
    RVar rx = rows.rvars(0)[0];
    RVar rxo("rxo"), rxi("rxi");
    Var u("u"), yo("yo"), yi("yi");
    Var row = rows.args().back();
    Func lanes = rows.update().split(rx, rxo, rxi, 32, TailStrategy::GuardWithIf).rfactor(rxi, u);
    // The intermediate's args are (row..., u): u goes innermost of the pure vars.
    lanes.compute_root().reorder(u, row).gpu_blocks(row).gpu_threads(u);
    lanes.update().reorder(u, row).gpu_blocks(row).gpu_threads(u);
    rows.compute_root();
    for (Stage st : {Stage(rows), rows.update()}) {
        st.gpu_tile(row, yo, yi, 32, TailStrategy::GuardWithIf);
    }
}

// The fused fits' step loops (fit_steps, scale_steps; adamax.h's fused_steps): state_out(x, y, j)
// the state planes, state and rate as fused_steps returns them, loss_rows the row sums of the
// loss at the starting state. naive: state at root. GPU: a thread per pixel runs all its steps
// with the state in registers (and loads what its gradient needs directly). CPU:
// schedule_steps_cpu with its knobs `chains` and `rows`, and `also` a further specialization.
inline void schedule_fused_steps(const Target &target, Schedule schedule, Func state_out,
                                 Func state, Func rate, Func loss_rows, int chains, int rows,
                                 Expr also = Expr()) {
    Var x = state_out.args()[0], y = state_out.args()[1], j = state_out.args()[2];
    state_out.bound(j, 0, 3);
    rate.compute_root();
    if (schedule == Schedule::naive) {
        state.compute_root();
        loss_rows.compute_root();
        return;
    }
    if (target.has_gpu_feature()) {
        gpu_tiles(state_out.reorder(j, x, y).unroll(j));
        state.compute_at(state_out, Var("xi"));
        gpu_row_sum(loss_rows);
        return;
    }
    const int vec = target.natural_vector_size<float>();
    schedule_steps_cpu(state_out, state, vec, chains, rows, also);
    vectorized_row_sum(loss_rows, vec);
}

}  // namespace blurmix::gen
