// The mix x_hat = m A + (1 - m) B, m = sigmoid(logit): the forward render.
#include "mix_and_loss.h"
#include "schedule.h"

namespace blurmix::gen {

class MixGenerator : public Generator<MixGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};

    Input<Buffer<float, 3>> blur_min{"blur_min"};
    Input<Buffer<float, 3>> blur_max{"blur_max"};
    // One logit per pixel; a global logit is passed as a view with zero strides.
    Input<Buffer<float, 2>> logit{"logit"};
    Output<Buffer<float, 3>> output{"output"};

    void generate() {
        // Algorithm
        // A global logit arrives with zero strides.
        logit.dim(0).set_stride(Expr());
        Mix m = mix(blur_min, blur_max, logit, blur_min, blur_min.width(), blur_min.height(),
                    blur_min.channels());
        output(x, y, c) = m.output(x, y, c);

        // Estimates
        const Region image = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}};
        blur_min.set_estimates(image);
        blur_max.set_estimates(image);
        logit.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        output.set_estimates(image);

        // Schedule
        if (using_autoscheduler() || schedule == Schedule::naive) return;
        // The CPU's loops specialized for a logit map (not the global logit's zero strides).
        schedule_render(get_target(), output, logit.dim(0).stride() == 1);
    }

private:
    Var x{"x"}, y{"y"}, c{"c"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::MixGenerator, mix)
