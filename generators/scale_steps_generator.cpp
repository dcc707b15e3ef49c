// The K-scale stack's fused fit without a penalty: `steps` Adamax iterations of every pixel's z
// at once from the segment moments (scale_moments), each pixel on its own trajectory, the state
// in registers, as fit_steps does for the min/max mix. Also the mean squared error at the
// starting state, over the whole image, for progress reports.
#include "adamax.h"
#include "moments.h"
#include "row_sums.h"
#include "scale_stack.h"
#include "schedule.h"

namespace blurmix::gen {

class ScaleStepsGenerator : public Generator<ScaleStepsGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};
    // Vectors of pixels stepped together, to hide the latency of a step's dependency chain.
    // blurmix_bench_scales --scales 7 --iters 200, shared 2-core AMD EPYC: the K = 7 fit
    // 3.7x the min/max fit with 1, 2.5x with 2, 1.9x with 4, 2.8x with 6, 1.9x with 8.
    GeneratorParam<int> chains{"chains", 4};
    // The rows they span on images narrower than that, as in fit_steps (not measured here: one).
    GeneratorParam<int> rows{"rows", 1};

    Input<Buffer<float, 4>> moments_in{"moments"};  // (x, y, 3, K - 1)
    Input<Buffer<float, 3>> state_in{"state"};      // (x, y, 3): z, exp_avg, exp_inf
    Input<int> first_step{"first_step"};            // steps already done
    Input<int> steps{"steps"};
    Input<float> lr{"lr"};
    Input<float> beta1{"beta1"};
    Input<float> beta2{"beta2"};
    Input<float> eps{"eps"};
    Input<float> inv_n{"inv_n"};
    Output<Buffer<float, 3>> state_out{"state_out"};
    Output<Buffer<float, 0>> loss{"loss"};  // at state_in

    void generate() {
        // Algorithm
        // How a step finds its segment's moments is the schedule's choice (segment_moment).
        const bool chain = schedule == Schedule::manual && !get_target().has_gpu_feature();
        moments_in.dim(2).set_bounds(0, 3);
        Expr segments = moments_in.dim(3).extent(), scales = segments + 1;
        // The state carries q = sigmoid(-z), the gradient's one exp. Not "state": that names
        // the input.
        FusedSteps fit = fused_steps(
            state_in, first_step, steps, lr, beta1, beta2, eps, [](Expr z) { return fast_sigmoid(-z); },
            [&](Expr q) { return scale_data_d_z(q, moments_in, x, y, scales, inv_n, chain); },
            "scale_state");
        state_out(x, y, j) = state_plane(adamax_state(fit.state(x, y)), j);

        Func pixel_loss("pixel_loss");
        pixel_loss(x, y) = scale_moment_loss(moments_in, x, y, fast_sigmoid(-state_in(x, y, 0)), scales, chain);
        MapTotal total = map_total(pixel_loss, state_in.width(), state_in.height(), "loss_total");
        loss() = cast<float>(total.total() * cast<double>(inv_n));

        // Estimates
        moments_in.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, 3}, {0, 6}});
        estimate_fused_steps(*this, 100, 0.3f);

        // Schedule
        if (using_autoscheduler()) return;
        // On the CPU specialized on K up to kSelectScales: a step selects among the segments
        // rather than loading per lane. (One specialization per K saved a select or two a step,
        // but took the asan build of this library past 8 minutes.)
        // With Halide's asan feature (the sanitizer build) one vector at a time: instrumenting
        // four in flight, each with its select chain of loads, took LLVM 6.5 minutes and
        // 5.6 GB; one takes 11 s. That build checks memory, not speed.
        const bool asan = get_target().has_feature(Target::ASAN);
        schedule_fused_steps(get_target(), schedule, state_out, fit.state, fit.rate, total.rows,
                             asan ? 1 : (int)chains, asan ? 1 : (int)rows, segments < kSelectScales);
    }

private:
    Var x{"x"}, y{"y"}, j{"j"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::ScaleStepsGenerator, scale_steps)
