// The loss of the K-scale stack's render against a target, an optional smoothness penalty on the
// scale map, and the analytic gradient of their sum with respect to the scale parameters z.
#include "scale_stack.h"
#include "smoothness.h"
#include "schedule.h"

namespace blurmix::gen {

class ScaleMixGradientGenerator : public Generator<ScaleMixGradientGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};

    Input<Buffer<float, 4>> stack{"stack"};  // (x, y, c, k)
    Input<Buffer<float, 2>> z{"z"};
    Input<Buffer<float, 3>> target{"target_image"};
    Input<int> penalty_kind{"penalty_kind"};  // a Penalty (definitions.h)
    Input<float> penalty_weight{"penalty_weight"};

    Output<Buffer<float, 0>> loss{"loss"};        // the mean squared error alone
    Output<Buffer<float, 0>> penalty{"penalty"};  // the smoothness penalty alone
    Output<Buffer<float, 2>> d_z{"d_z"};          // d (loss + penalty) / d z

    void generate() {
        // Algorithm
        Expr w = stack.width(), h = stack.height(), ch = stack.dim(2).extent();
        ScaleMix m = scale_mix(stack, stack.dim(3).extent(), z, target, w, h, ch);
        // Without a penalty its row sums are empty and the d_z specialization drops its term.
        Smoothness s = smoothness(m.q, w, h, penalty_kind, penalty_weight);
        loss() = m.loss();
        penalty() = s.penalty();
        Expr q = m.q(x, y);
        d_z(x, y) = m.d_z(x, y) + select(penalty_kind == (int)Penalty::none, 0.f, -s.d_q(x, y) * q * (1.f - q));

        // Estimates
        stack.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}, {0, 7}});
        z.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        target.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}});
        // Not 0: Mullapudi2016 fails with an internal error on a parameter estimated at 0.
        penalty_kind.set_estimate((int)Penalty::tv);
        penalty_weight.set_estimate(1e-3f);
        d_z.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});

        // Schedule
        if (using_autoscheduler()) return;
        if (schedule == Schedule::naive) {
            compute_all_root({m.q, m.pixel, m.row_loss, s.row_penalty});
            return;
        }
        if (get_target().has_gpu_feature()) {
            schedule_gpu(m, s);
        } else {
            schedule_cpu(m, s);
        }
    }

private:
    Var x{"x"}, y{"y"}, yo{"yo"};

    // As mix_gradient's GPU schedule: q and the per-pixel gradient in 32x8 tiles; each row sum
    // in two stages (32 threads per row on strided columns, then one thread per row); the
    // totals over rows add in double on the host. Not timed: no GPU here; checked for equality
    // with the CPU schedule on OpenCL through PoCL (on the CPU).
    void schedule_gpu(ScaleMix &m, Smoothness &s) {
        gpu_tiles(m.q.compute_root());
        gpu_tiles(d_z);
        d_z.specialize(penalty_kind == (int)Penalty::none);
        m.pixel.compute_root();
        for (Stage st : {Stage(m.pixel), m.pixel.update()}) {
            gpu_tiles(st);
        }
        gpu_row_sum(m.row_loss);
        gpu_row_sum(s.row_penalty);
    }

    // q = sigmoid(-z) once per pixel (an exp) at root, as the render, the loss, the gradient and
    // the penalty's five-point stencil all read it. Then, per pixel and at root, the squared
    // residual and d loss / d u together, so that the two scales are gathered once (a vector's
    // pixels may use different pairs); rows in parallel; the row sums vectorized by rfactor.
    // blurmix_bench_scales, 512x512x1, K = 7, on the shared 2-core AMD EPYC build machine:
    // 1.3 to 1.5x mix_gradient's manual schedule without a penalty, 2.2 to 2.4x with TV (it was
    // 1.8 to 2.0x and 2.6 to 2.9x gathering in the loss and the gradient separately); naive 4.5 ms.
    void schedule_cpu(ScaleMix &m, Smoothness &s) {
        const int vec = natural_vector_size<float>();
        parallel_rows(m.q.compute_root(), vec);
        parallel_rows(d_z, vec);
        d_z.specialize(penalty_kind == (int)Penalty::none);
        s.dphi.compute_at(d_z, yo).vectorize(x, vec);
        parallel_rows(m.pixel.compute_root(), vec);
        parallel_rows(m.pixel.update(), vec);
        vectorized_row_sum(m.row_loss, vec);
        vectorized_row_sum(s.row_penalty, vec);
        // In a dense pass of its own, where the edge clamps of q fall out of the steady state;
        // without a penalty its row sums are empty and nothing of it is computed.
        parallel_rows(s.pair_penalty.compute_root(), vec);
    }
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::ScaleMixGradientGenerator, scale_mix_gradient)
