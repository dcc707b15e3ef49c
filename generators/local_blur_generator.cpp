// The exact spatially varying Gaussian blur: every pixel its own sigma from a sigma map, one
// half-width for the image from radius_sigma (the runtime passes the map's largest sigma).
#include "taps_and_blur.h"
#include "schedule.h"

namespace blurmix::gen {

class LocalBlurGenerator : public Generator<LocalBlurGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};

    Input<Buffer<float, 3>> input{"input"};
    Input<Buffer<float, 2>> sigma{"sigma"};  // width x height, shared by the channels
    Input<float> radius_sigma{"radius_sigma"};
    Input<float> std_devs{"std_devs"};
    Input<int> boundary{"boundary"};  // a Boundary (definitions.h)
    Output<Buffer<float, 3>> output{"output"};

    void generate() {
        // Algorithm
        LocalBlur b = local_blur(input, sigma, input.width(), input.height(), radius_sigma, std_devs,
                                 boundary);
        // GPU threads take the direct form (see LocalBlur): the same sum, another order.
        const bool gpu = get_target().has_gpu_feature() && schedule == Schedule::manual && !using_autoscheduler();
        output(x, y, c) = gpu ? b.direct(x, y, c) : b.output(x, y, c);

        // Estimates
        const Region image = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}};
        input.set_estimates(image);
        sigma.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        radius_sigma.set_estimate(5.f);
        std_devs.set_estimate(2.f);
        boundary.set_estimate((int)Boundary::zero);
        output.set_estimates(image);

        // Schedule
        if (using_autoscheduler()) return;
        if (schedule == Schedule::naive) {
            compute_all_root({b.tap_sum, b.taps, b.column, b.output});
            return;
        }
        if (gpu) {
            schedule_gpu(b);
        } else {
            schedule_cpu(b);
        }
    }

private:
    Var x{"x"}, y{"y"}, c{"c"}, xo{"xo"}, xi{"xi"}, yo{"yo"}, yi{"yi"};

    // A thread per pixel in 32x8 tiles, channels over blocks: its tap sum (2R+1 exps), then its
    // (2R+1)^2 offsets accumulated in a register. Not timed: no GPU here; checked for equality
    // with the reference on OpenCL through PoCL (on the CPU).
    void schedule_gpu(LocalBlur &b) {
        gpu_tiles(output).gpu_blocks(c);
        b.direct_sum.compute_at(output, xi);
        b.tap_sum.compute_at(output, xi);
    }

    // Rows in parallel, in strips of 8. For each row: its taps (one exp per tap and pixel); then
    // for each run of four vectors of pixels the column sums of all 2R+1 offsets dx (the tap loop
    // inside the vector loop, accumulating in registers; the run's 2R+1 columns stay in L1),
    // then the horizontal sum over dx. The column sums cannot be shared between neighbouring
    // pixels (each uses its own sigma), so the cost is (2R+1)(R+1) multiply-adds a pixel.
    // blurmix_bench_scales, 512x512x1, sigma 4 | 7 (R = 14), on the shared 2-core AMD EPYC build
    // machine: 32 to 34x the separable blur of sigma 7 (23 to 42 ms as its load varied); with the
    // columns of a whole row (in L2) instead, 61 to 86x (75 to 195 ms); naive: 1867 ms.
    void schedule_cpu(LocalBlur &b) {
        const int vec = natural_vector_size<float>();
        output.split(y, yo, yi, 8, TailStrategy::GuardWithIf)
            .split(x, xo, xi, vec * 4, TailStrategy::GuardWithIf)
            .parallel(yo)
            .vectorize(xi);
        b.output.compute_at(output, xo).vectorize(x);
        b.output.update().vectorize(x);
        b.column.compute_at(output, xo).vectorize(x);
        b.column.update().vectorize(x);
        b.taps.compute_at(output, yi).vectorize(x, vec);
        b.tap_sum.compute_at(output, yi).vectorize(x, vec);
        b.tap_sum.update().vectorize(x, vec);
        for (Func f : {b.column, b.output}) {
            for (Stage s : {Stage(f), f.update()}) {
                s.specialize(boundary == (int)Boundary::zero);
                s.specialize(boundary == (int)Boundary::clamp);
            }
        }
    }
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::LocalBlurGenerator, local_blur)
