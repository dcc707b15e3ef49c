// The K-scale stack's render: per pixel the two neighbouring scales of the stack mixed by the
// scale parameter z (scale_stack.h). With two scales it is the seed's min/max mix.
#include "scale_stack.h"
#include "schedule.h"

namespace blurmix::gen {

class ScaleMixGenerator : public Generator<ScaleMixGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};

    Input<Buffer<float, 4>> stack{"stack"};  // (x, y, c, k): the K blurs, sigmas increasing
    Input<Buffer<float, 2>> z{"z"};           // one scale parameter per pixel
    Output<Buffer<float, 3>> output{"output"};

    void generate() {
        // Algorithm
        Func no_target("no_target");
        no_target(x, y, c) = 0.f;
        ScaleMix m = scale_mix(stack, stack.dim(3).extent(), z, no_target, stack.width(),
                               stack.height(), stack.dim(2).extent());
        output(x, y, c) = m.output(x, y, c);

        // Estimates
        stack.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}, {0, 7}});
        z.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        output.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}});

        // Schedule
        if (using_autoscheduler() || schedule == Schedule::naive) return;
        // Memory bound, like the min/max mix (on the CPU the two scales of a vector are gathered,
        // as neighbouring pixels may use different pairs). Run once per fit, for the final
        // render, so not timed on its own.
        schedule_render(get_target(), output);
    }

private:
    Var x{"x"}, y{"y"}, c{"c"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::ScaleMixGenerator, scale_mix)
