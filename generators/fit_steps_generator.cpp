// The fused fit with fixed blurs: `steps` Adamax iterations of every pixel's logit at once, each
// pixel on its own trajectory (the 1/N of the mean is a known constant), state in registers.
// Also the loss at the starting state, the true mean over the image, for progress reports.
// A global fit runs the same pipeline on a 1x1 image of the moments' totals.
#include "adamax.h"
#include "mix_and_loss.h"
#include "moments.h"
#include "row_sums.h"
#include "schedule.h"

namespace blurmix::gen {

class FitStepsGenerator : public Generator<FitStepsGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};
    // Vectors of pixels stepped together (a step is one long dependency chain: exp, two
    // divisions), and the rows they span on images narrower than that: schedule_steps_cpu has
    // the measurements.
    GeneratorParam<int> chains{"chains", 8};
    GeneratorParam<int> rows{"rows", 4};

    Input<Buffer<float, 3>> moments_in{"moments"};  // (x, y, 3): a, b, c
    Input<Buffer<float, 3>> state_in{"state"};      // (x, y, 3): logit, exp_avg, exp_inf
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
        Expr a = moments_in(x, y, 0), b = moments_in(x, y, 1);
        // The state carries m = sigmoid(logit), the gradient's one exp. Not "state": that names
        // the input.
        FusedSteps fit = fused_steps(state_in, first_step, steps, lr, beta1, beta2, eps, fast_sigmoid,
                                     [&](Expr m) { return moment_grad(a, b, m, inv_n); }, "fit_state");
        state_out(x, y, j) = state_plane(adamax_state(fit.state(x, y)), j);

        Func pixel_loss("pixel_loss");
        pixel_loss(x, y) = moment_loss(a, b, moments_in(x, y, 2), fast_sigmoid(state_in(x, y, 0)));
        MapTotal total = map_total(pixel_loss, state_in.width(), state_in.height(), "loss_total");
        loss() = cast<float>(total.total() * cast<double>(inv_n));

        // Estimates
        moments_in.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, 3}});
        estimate_fused_steps(*this, 100, 0.1f);

        // Schedule
        if (using_autoscheduler()) return;
        // On the CPU a 1x1 global fit is one predicated vector (0.09 ms for 1000 steps).
        // With Halide's asan feature (the sanitizer build) two chains, over two rows where the
        // image is narrow: both cases of the schedule, instrumented in 29 s; eight take 3 minutes.
        const bool asan = get_target().has_feature(Target::ASAN);
        schedule_fused_steps(get_target(), schedule, state_out, fit.state, fit.rate, total.rows,
                             asan ? 2 : (int)chains, asan ? 2 : (int)rows);
    }

private:
    Var x{"x"}, y{"y"}, j{"j"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::FitStepsGenerator, fit_steps)
