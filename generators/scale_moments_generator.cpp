// The per-pixel moments (a, b, c) of every segment of the K-scale stack against a target: what
// the stack's fused fit (scale_steps, scale_smooth_steps) iterates on instead of the images.
#include "moments.h"
#include "schedule.h"

namespace blurmix::gen {

class ScaleMomentsGenerator : public Generator<ScaleMomentsGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};

    Input<Buffer<float, 4>> stack{"stack"};  // (x, y, c, k)
    Input<Buffer<float, 3>> target{"target_image"};
    Output<Buffer<float, 4>> moments_out{"moments"};  // (x, y, 3, K - 1)

    void generate() {
        // Algorithm
        Func m = scale_moments(stack, target, stack.dim(2).extent());
        moments_out(x, y, j, k) = m(x, y, j, k);

        // Estimates
        stack.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}, {0, 7}});
        target.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}});
        moments_out.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, 3}, {0, 6}});

        // Schedule
        if (using_autoscheduler()) return;
        moments_out.bound(j, 0, 3);
        if (schedule == Schedule::naive) {
            m.compute_root();
            return;
        }
        if (get_target().has_gpu_feature()) {
            // A thread per pixel and segment computes its three moments.
            gpu_tiles(moments_out.reorder(j, x, y, k).unroll(j)).gpu_blocks(k);
            m.compute_at(moments_out, xi).unroll(j);
            m.update().unroll(j);
            return;
        }
        // One pass, memory bound: rows in parallel, each row's segments in turn, the three
        // moments of a vector of pixels together (j unrolled), so that B_k, B_{k+1} and the target
        // are loaded once for the three. 512x512, K = 7, one channel: 1.5 to 1.9 ms on the
        // shared 2-core AMD EPYC build machine, once per fit.
        const int vec = natural_vector_size<float>();
        moments_out.reorder(j, x, k, y).unroll(j)
            .split(y, yo, yi, 8, TailStrategy::GuardWithIf).parallel(yo)
            .vectorize(x, vec, TailStrategy::GuardWithIf);
        m.compute_at(moments_out, x).reorder(j, x).unroll(j).vectorize(x);
        m.update().reorder(j, x).unroll(j).vectorize(x);
    }

private:
    Var x{"x"}, y{"y"}, j{"j"}, k{"k"}, xi{"xi"}, yo{"yo"}, yi{"yi"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::ScaleMomentsGenerator, scale_moments)
