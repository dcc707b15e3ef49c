// The K-scale stack's fit while the smoothness penalty holds: the penalty couples each pixel to
// its four neighbours, so a pixel cannot run its steps alone as in scale_steps. A call runs
// `steps` (1 to steps_per_call) iterations as a chain of step Funcs, each reading its
// neighbours' q of the step before; per tile, Halide's bounds inference grows each earlier
// step's region by the stencil, so a tile computes its own halo. One step per call (the
// default) is one pass: render gradient, penalty gradient and Adamax update together, instead
// of scale_mix_gradient, adamax and the host between them. Also the mean squared error and the
// penalty at the starting state when with_loss is set.
#include "adamax.h"
#include "moments.h"
#include "row_sums.h"
#include "scale_stack.h"
#include "smoothness.h"
#include "schedule.h"

namespace blurmix::gen {

class ScaleSmoothStepsGenerator : public Generator<ScaleSmoothStepsGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};
    // The default is definitions.h's kSmoothStepsPerCall, what the runtime calls it with. One:
    // chained steps cost far more than their halos' share (not understood; the stmt shows
    // tile-sized regions).
    // blurmix_bench_scales --scales 7 --iters 200 (TV for the first 100), as a ratio to the
    // min/max fit, on the shared 2-core AMD EPYC build machine, runs taken together: 1 step a
    // call 3.4 to 4.0x, 2 steps 6.4 to 6.8x, 4 steps 10.8 to 11.5x, 8 steps (64x32 tiles) about
    // 7x; the step-by-step loop (scale_mix_gradient, adamax) 5.8 to 6.8x.
    GeneratorParam<int> steps_per_call{"steps_per_call", kSmoothStepsPerCall};
    // Whole rows: 512x64 tiles 3.4 to 3.9x, 512x32 3.8 to 4.0x, 512x16 4.3 to 4.8x, 256x8 5.7x.
    GeneratorParam<int> tile_x{"tile_x", 512};
    GeneratorParam<int> tile_y{"tile_y", 64};

    Input<Buffer<float, 4>> moments_in{"moments"};  // (x, y, 3, K - 1)
    Input<Buffer<float, 3>> state_in{"state"};      // (x, y, 3): z, exp_avg, exp_inf
    Input<int> first_step{"first_step"};            // steps already done
    Input<int> steps{"steps"};                      // 1 to steps_per_call
    Input<float> lr{"lr"};
    Input<float> beta1{"beta1"};
    Input<float> beta2{"beta2"};
    Input<float> eps{"eps"};
    Input<float> inv_n{"inv_n"};
    Input<int> penalty_kind{"penalty_kind"};  // a Penalty (definitions.h)
    Input<float> penalty_weight{"penalty_weight"};
    Input<bool> with_loss{"with_loss"};
    Output<Buffer<float, 3>> state_out{"state_out"};
    Output<Buffer<float, 0>> loss{"loss"};        // at state_in: the mean squared error alone
    Output<Buffer<float, 0>> penalty{"penalty"};  // and the smoothness penalty alone

    void generate() {
        // Algorithm
        const int T = steps_per_call;
        const bool chain = schedule == Schedule::manual && !get_target().has_gpu_feature();
        moments_in.dim(2).set_bounds(0, 3);
        Expr w = state_in.width(), h = state_in.height();
        Expr segments = moments_in.dim(3).extent(), scales = segments + 1;
        // The bias-corrected rate of each step, checked on the host: a call runs 1 to T steps.
        Func rate("rate");
        rate(i) = require(steps >= 1 && steps <= T, adamax_rate(first_step + i + 1, lr, beta1),
                          "scale_smooth_steps runs 1 to", T, "steps a call, not", steps);
        // Each step in single-valued Funcs where it is shared: q (read by the neighbours' penalty
        // terms) and the gradient (read by all three parts of the update), so that no part of a
        // step is computed once per element of the state.
        std::vector<Func> st(T + 1);
        st[0] = Func("scale_state_0");
        AdamaxState start = state_at(state_in, x, y);
        st[0](x, y) = Tuple(start.param, start.exp_avg, start.exp_inf);
        for (int t = 0; t < T; t++) {
            const std::string n = std::to_string(t);
            Func q("scale_q_" + n), g("scale_d_z_" + n);
            q(x, y) = fast_sigmoid(-st[t](x, y)[0]);
            Smoothness s = smoothness(q, w, h, penalty_kind, penalty_weight);
            Expr qv = q(x, y);
            g(x, y) = scale_data_d_z(qv, moments_in, x, y, scales, inv_n, chain) - s.d_q(x, y) * qv * (1.f - qv);
            AdamaxState a = adamax(adamax_state(st[t](x, y)), g(x, y), rate(t), beta1, beta2, eps);
            // A call with fewer steps passes the rest of the chain through.
            st[t + 1] = Func("scale_state_" + std::to_string(t + 1));
            st[t + 1](x, y) = Tuple(select(t < steps, a.param, st[t](x, y)[0]),
                                    select(t < steps, a.exp_avg, st[t](x, y)[1]),
                                    select(t < steps, a.exp_inf, st[t](x, y)[2]));
            stages.push_back(q);
            stages.push_back(s.dphi);
            stages.push_back(g);
            if (t + 1 < T) stages.push_back(st[t + 1]);
        }
        state_out(x, y, j) = state_plane(adamax_state(st[T](x, y)), j);

        // At the starting state; without with_loss the row sums are empty.
        Func q0("scale_q_start");
        q0(x, y) = fast_sigmoid(-state_in(x, y, 0));
        Func pixel_loss("pixel_loss");
        pixel_loss(x, y) = scale_moment_loss(moments_in, x, y, q0(x, y), scales, chain);
        MapTotal total = map_total(pixel_loss, select(with_loss, w, 0), h, "loss_total");
        loss() = cast<float>(total.total() * cast<double>(inv_n));
        Smoothness s0 = smoothness(q0, w, h, select(with_loss, penalty_kind, (int)Penalty::none), penalty_weight);
        penalty() = s0.penalty();

        // Estimates
        moments_in.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, 3}, {0, 6}});
        estimate_fused_steps(*this, T, 0.3f);
        penalty_kind.set_estimate((int)Penalty::tv);
        penalty_weight.set_estimate(1e-3f);
        with_loss.set_estimate(true);

        // Schedule
        if (using_autoscheduler()) return;
        state_out.bound(j, 0, 3);
        rate.compute_root();
        if (schedule == Schedule::naive) {
            for (Func f : stages) f.compute_root();
            total.rows.compute_root();
            s0.row_penalty.compute_root();
            return;
        }
        if (get_target().has_gpu_feature()) {
            // A kernel per stage of a step (q, phi', the gradient, the update), a thread per
            // pixel. Not timed: no GPU here; checked against the CPU schedule on OpenCL through
            // PoCL.
            for (Func f : stages) gpu_tiles(f.compute_root());
            gpu_tiles(state_out.reorder(j, x, y).unroll(j));
            gpu_row_sum(total.rows);
            gpu_row_sum(s0.row_penalty);
            return;
        }
        // Tiles of whole rows in parallel; within a tile each stage (q, phi' of the pixel pairs,
        // the gradient, the next state) over the tile and its halo, vectorized, the stage before
        // read from the cache. Specialized on K up to kSelectScales (a step then selects among
        // its segments instead of gathering) and, inside that, on full calls (no pass-through
        // selects). Timed as a whole fit: see steps_per_call.
        const int vec = natural_vector_size<float>();
        state_out.reorder(j, x, y).unroll(j)
            .tile(x, y, xo, yo, xi, yi, tile_x, tile_y, TailStrategy::GuardWithIf)
            .fuse(xo, yo, tile).parallel(tile)
            .vectorize(xi, vec, TailStrategy::GuardWithIf);
        state_out.specialize(segments < kSelectScales).specialize(steps == T);
        for (Func f : stages) f.compute_at(state_out, tile).vectorize(x, vec, TailStrategy::GuardWithIf);
        vectorized_row_sum(total.rows, vec);
        vectorized_row_sum(s0.row_penalty, vec);
        parallel_rows(s0.pair_penalty.compute_root(), vec);
    }

private:
    Var x{"x"}, y{"y"}, j{"j"}, i{"i"}, xo{"xo"}, xi{"xi"}, yo{"yo"}, yi{"yi"}, tile{"tile"};
    std::vector<Func> stages;  // what each step computes, in order (the last state is inlined)
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::ScaleSmoothStepsGenerator, scale_smooth_steps)
