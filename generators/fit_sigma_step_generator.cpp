// One iteration of a local fit that learns the sigmas, fused: both blurs and their sigma
// derivatives at the current sigmas, the loss, the gradients of the per-pixel logits and of the
// two sigmas, and the Adamax updates of both, in one pipeline (the seed recomputes the blurs
// through autograd every iteration).
#include <algorithm>

#include "adamax.h"
#include "blur_schedule.h"
#include "mix_and_loss.h"
#include "taps_and_blur.h"

namespace blurmix::gen {

class FitSigmaStepGenerator : public Generator<FitSigmaStepGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};
    // The CPU manual schedule's variant, for A/B runs in one binary (apps/bench_sigma_step).
    GeneratorParam<int> cpu_variant{"cpu_variant", 0};

    Input<Buffer<float, 3>> source{"source"};
    Input<Buffer<float, 3>> target{"target_image"};
    Input<Buffer<float, 3>> logit_state{"logit_state"};  // (x, y, 3): logit, exp_avg, exp_inf
    // The current sigmas, as scalars: a blur's radius follows its sigma, and an RDom's extent
    // may not be read from a buffer. They equal sigma_state(0, 0) and sigma_state(1, 0).
    Input<float> sigma_min{"sigma_min"};
    Input<float> sigma_max{"sigma_max"};
    Input<Buffer<float, 2>> sigma_state{"sigma_state"};  // (2, 3): sigma_min/max x the same
    Input<int> step{"step"};                             // 1 at the first update
    Input<float> lr{"lr"};
    Input<float> beta1{"beta1"};
    Input<float> beta2{"beta2"};
    Input<float> eps{"eps"};
    Input<float> std_devs{"std_devs"};
    Input<int> boundary{"boundary"};
    Output<Buffer<float, 3>> logit_state_out{"logit_state_out"};
    Output<Buffer<float, 2>> sigma_state_out{"sigma_state_out"};
    Output<Buffer<float, 0>> loss{"loss"};  // before the update

    void generate() {
        // Algorithm
        Expr w = source.width(), h = source.height(), ch = source.channels();
        const bool paired = cpu_variant >= 2 && schedule == Schedule::manual && !get_target().has_gpu_feature();
        Blur a = blur(source, w, h, sigma_min, std_devs, boundary, true, "blur_min", paired);
        Blur b = blur(source, w, h, sigma_max, std_devs, boundary, true, "blur_max", paired);
        Func logit("logit");
        logit(x, y) = logit_state(x, y, 0);
        Mix m = mix(a.output, b.output, logit, target, w, h, ch);
        SigmaGrad s = sigma_grad(m, a.d_output, b.d_output, w, h, ch);
        loss() = m.loss();

        Expr rate = adamax_rate(step, lr, beta1);
        AdamaxState l = adamax(state_at(logit_state, x, y), m.d_logit(x, y), rate, beta1, beta2, eps);
        logit_state_out(x, y, j) = state_plane(l, j);

        Func d_sigma("d_sigma");
        d_sigma(i) = select(i == 0, s.d_sigma_min(), s.d_sigma_max());
        AdamaxState t = adamax({sigma_state(i, 0), sigma_state(i, 1), sigma_state(i, 2)},
                               d_sigma(i), rate, beta1, beta2, eps);
        // The kernel needs sigma > 0: a step that would cross it stops just short.
        sigma_state_out(i, j) = state_plane({max(t.param, 0.05f), t.exp_avg, t.exp_inf}, j);

        // Estimates
        const Region image = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}};
        source.set_estimates(image);
        target.set_estimates(image);
        logit_state.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, 3}});
        sigma_state.set_estimates({{0, 2}, {0, 3}});
        logit_state_out.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, 3}});
        sigma_state_out.set_estimates({{0, 2}, {0, 3}});
        step.set_estimate(1);
        sigma_min.set_estimate(3.f);
        sigma_max.set_estimate(9.f);
        lr.set_estimate(0.1f);
        beta1.set_estimate(0.9f);
        beta2.set_estimate(0.999f);
        eps.set_estimate(1e-8f);
        std_devs.set_estimate(2.f);
        boundary.set_estimate((int)Boundary::zero);

        // Schedule
        if (using_autoscheduler()) return;
        logit_state_out.bound(j, 0, 3);
        sigma_state_out.bound(i, 0, 2).bound(j, 0, 3);
        std::vector<Func> images = {a.vertical, a.d_vertical, a.output, a.d_output,
                                    b.vertical, b.d_vertical, b.output, b.d_output};
        for (Blur *k : {&a, &b}) {
            for (Func f : {k->taps.sum, k->taps.w, k->taps.m2, k->taps.dw}) f.compute_root();
        }
        d_sigma.compute_root();
        if (schedule == Schedule::naive) {
            for (Func f : images) f.compute_root();
            m.row_loss.compute_root();
            s.rows.compute_root();
            return;
        }
        if (get_target().has_gpu_feature()) {
            // The same stages at root on the device: 32x8 tiles of threads; row sums as
            // gpu_row_sum does; the two sigmas' update on the host.
            for (Func f : images) {
                f.compute_root();
                for (Stage st : {Stage(f), f.update()}) {
                    gpu_tiles(st);
                }
            }
            gpu_tiles(logit_state_out.reorder(j, x, y).unroll(j));
            m.d_weight.compute_at(logit_state_out, xi);
            gpu_row_sum(m.row_loss);
            gpu_row_sum(s.rows);
            return;
        }
        // Each blur and its derivative once at root, scheduled as the blur pipeline's CPU
        // schedule (tiles, the passes in registers): the images feed the loss, the logit
        // gradient and the sigma gradients, so they are stored rather than recomputed. The sums
        // go by rows, vectorized across lanes.
        // On the Zen 4 machine at 512x512, sigmas 3 and 9, in an A/B run with the runtime's
        // scratch-block reuse: each image at root, rows in parallel, the tap loop outside the
        // vector loop, 3.9 ms an iteration; the blur's schedule 1.9 ms; with the row sums on
        // both cores (schedule.h) 1.76 ms. Tiles 16 rows high rather than the blur's 64 (a tile
        // here holds a vertical pass and its derivative, and 512x512 makes only 8 tiles of 64;
        // which of the two made the difference I did not establish): A/B in one binary, 16
        // rows 6-7% faster at 512x512, 10% at 2048x2048, 34% at 64x64 (8 rows: 6-12% and 10%,
        // but 10% slower at 64x64; 32 rows: no change).
        const int vec = natural_vector_size<float>();
        if (cpu_variant >= 1) {
            // Strips of rows: both blurs and their derivatives computed per strip, consumed
            // there by the update and the row sums while they are in cache.
            const int strip_h = 16;
            logit_state_out.reorder(j, x, y).unroll(j)
                .split(y, yo, yi, strip_h, TailStrategy::GuardWithIf).parallel(yo)
                .vectorize(x, vec, TailStrategy::GuardWithIf);
            for (Blur k : {a, b}) {
                Func out = k.output.in(), d_out = k.d_output.in();
                schedule_blur_cpu(get_target(), k, out, d_out, w, h, boundary, strip_h,
                                  logit_state_out, yo, cpu_variant == 5 ? 8 : 0);
            }
            m.d_weight.compute_at(logit_state_out, x).vectorize(x);
            m.d_weight.update().vectorize(x);
            fused_row_sum(m.row_loss, vec, logit_state_out, yo, strip_h);
            Func sigma_lanes = fused_row_sum(s.rows, vec, logit_state_out, yo, strip_h);
            if (cpu_variant >= 3) {
                // The weights once per strip (an exp a pixel, which the loss, both sigma sums
                // and the update read), and both sigmas' sums in one pass over each row.
                m.weight.compute_at(logit_state_out, yo).vectorize(x, vec);
                s.rows.bound(i, 0, 2);
                std::vector<Var> lane_args = sigma_lanes.args();
                std::stable_partition(lane_args.begin(), lane_args.end(),
                                      [](const Var &v) { return v.name() == "u"; });
                sigma_lanes.reorder_storage(lane_args);  // the lanes innermost in memory
                sigma_lanes.update().reorder(i, RVar("rxo")).unroll(i);
            }
            if (cpu_variant == 4) {
                // The strip's state and target fetched into cache while its blurs compute.
                Func(logit_state_out).prefetch(logit_state, yo, yo, 0);
                Func(logit_state_out).prefetch(target, yo, yo, 0);
            }
            return;
        }
        for (Blur k : {a, b}) {
            Func out = k.output.in(), d_out = k.d_output.in();
            out.compute_root();
            d_out.compute_root();
            schedule_blur_cpu(get_target(), k, out, d_out, w, h, boundary, 16);
        }
        logit_state_out.reorder(j, x, y).unroll(j)
            .split(y, yo, yi, 8, TailStrategy::GuardWithIf).parallel(yo)
            .vectorize(x, vec, TailStrategy::GuardWithIf);
        m.d_weight.compute_at(logit_state_out, x).vectorize(x);
        m.d_weight.update().vectorize(x);
        vectorized_row_sum(m.row_loss, vec);
        vectorized_row_sum(s.rows, vec);
    }

private:
    Var x{"x"}, y{"y"}, i{"i"}, j{"j"}, xi{"xi"}, yo{"yo"}, yi{"yi"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::FitSigmaStepGenerator, fit_sigma_step)
