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
    // The CPU manual schedule before the strips below: each image at root. Kept for A/B runs
    // in one binary (apps/bench_sigma_step builds both).
    GeneratorParam<bool> root_images{"root_images", false};
    // The strips' horizontal passes in vectors of this many lanes (0: the group of 32 as one),
    // for A/B runs.
    GeneratorParam<int> h_lanes{"h_lanes", 8};
    // The strips' horizontal passes read copies of the vertical rows extended by the boundary
    // rule (true, as before) or the vertical pass itself (taps_and_blur.h's BlurForm), for A/B
    // runs.
    GeneratorParam<bool> ext_copies{"ext_copies", false};
    // The strips' horizontal passes by the hand-written AVX-512 kernel where the target has
    // AVX-512 (taps_and_blur.h's use_horizontal_pass_kernel), or by Halide's loop, for A/B runs.
    GeneratorParam<bool> horizontal_kernel{"horizontal_kernel", true};

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
        // The passes paired with their derivatives where the strips' schedule runs (below).
        const bool paired = schedule == Schedule::manual && !get_target().has_gpu_feature() && !root_images;
        const BlurForm form = !paired ? BlurForm::separate : ext_copies ? BlurForm::paired : BlurForm::paired_no_ext;
        Blur a = blur(source, w, h, sigma_min, std_devs, boundary, true, "blur_min", form);
        Blur b = blur(source, w, h, sigma_max, std_devs, boundary, true, "blur_max", form);
        if (paired && !ext_copies && horizontal_kernel && !using_autoscheduler() &&
            has_horizontal_pass_kernel(get_target())) {
            use_horizontal_pass_kernel(a, "blur_min");
            use_horizontal_pass_kernel(b, "blur_max");
        }
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
        const int vec = natural_vector_size<float>();
        if (!root_images) {
            // Strips of 16 whole rows in parallel: per strip, both blurs and their derivatives
            // (each as the blur pipeline's CPU schedule computes a tile, the strip being the
            // tile, the passes paired with their derivatives), then the update and the row sums
            // of the loss and of the sigma gradients, which read the blurs while they are in
            // cache. The sums are fused into the strips' loop by compute_with.
            // Measured with apps/bench_sigma_step on the 2-core Zen 4 machine (30 Nov 2026,
            // load 3 to 4 from other builds: medians of 7 to 15 samples of 10 iterations,
            // variants interleaved), against the schedule below (images at root): strips alone
            // 1.06x at 512x512 and 2.1x at 2048x2048 (the images at root fall out of cache: the
            // root schedule took 2.2x longer a pixel at 2048x2048 than at 512x512); the passes
            // paired with their derivatives (a tap pair's sum loaded and added once for both)
            // 0-8% more; the weights once per strip (one exp a pixel, not one per reader) and
            // both sigmas' sums in one pass over each row, their lanes innermost in memory
            // (they had been written lane by lane with scalar stores) 15% more at 512x512;
            // the horizontal passes in 8-lane vectors, four for each tap, 2-3% more (three runs);
            // the horizontal passes reading the vertical pass itself over the columns past the
            // edges (taps_and_blur.h's BlurForm::paired_no_ext) rather than copies of its rows
            // extended by the boundary rule, whose edges Halide wrote as scalar gathers, 16%
            // more at 512x512 and 19% at 2048x2048 (one run, load 6 to 7.5). All together,
            // against the images at root in the same run: 1.59x at 512x512, 2.84x at 2048x2048.
            // Since 1 Dec 2026 the paired horizontal passes, where the target has AVX-512, are
            // the hand-written kernel (kernels/horizontal_pass_avx512.cpp), one call a strip:
            // A/B in one binary (bench_sigma_step, strips_halide against strips, load 1) 1.23x
            // faster at 512x512 and 1.22x at 2048x2048, 45% of the FMA peak at 512x512.
            // Tried and dropped: the strip's state and target prefetched at its start
            // (Halide's prefetch) no faster at 512x512, within noise at 2048x2048; strips of
            // 32 rows 6% slower at 2048x2048, of 8 rows the same.
            const int strip_h = 16;
            logit_state_out.reorder(j, x, y).unroll(j)
                .split(y, yo, yi, strip_h, TailStrategy::GuardWithIf).parallel(yo)
                .vectorize(x, vec, TailStrategy::GuardWithIf);
            for (Blur k : {a, b}) {
                Func out = k.output.in(), d_out = k.d_output.in();
                schedule_blur_cpu(get_target(), k, out, d_out, w, h, boundary, strip_h,
                                  logit_state_out, yo, h_lanes);
            }
            m.weight.compute_at(logit_state_out, yo).vectorize(x, vec);
            m.d_weight.compute_at(logit_state_out, x).vectorize(x);
            m.d_weight.update().vectorize(x);
            fused_row_sum(m.row_loss, vec, logit_state_out, yo, strip_h);
            Func sigma_lanes = fused_row_sum(s.rows, vec, logit_state_out, yo, strip_h);
            s.rows.bound(i, 0, 2);
            std::vector<Var> lane_args = sigma_lanes.args();
            std::stable_partition(lane_args.begin(), lane_args.end(),
                                  [](const Var &v) { return v.name() == "u"; });
            sigma_lanes.reorder_storage(lane_args);
            sigma_lanes.update().reorder(i, RVar("rxo")).unroll(i);
            return;
        }
        // Before the strips: each blur and its derivative once at root, scheduled as the blur
        // pipeline's CPU schedule (tiles, the passes in registers); the sums by rows,
        // vectorized across lanes, each a pass of its own.
        // On the Zen 4 machine at 512x512, sigmas 3 and 9, in an A/B run with the runtime's
        // scratch-block reuse: each image at root, rows in parallel, the tap loop outside the
        // vector loop, 3.9 ms an iteration; the blur's schedule 1.9 ms; with the row sums on
        // both cores (schedule.h) 1.76 ms. Tiles 16 rows high rather than the blur's 64 (a tile
        // here holds a vertical pass and its derivative, and 512x512 makes only 8 tiles of 64;
        // which of the two made the difference I did not establish): A/B in one binary, 16
        // rows 6-7% faster at 512x512, 10% at 2048x2048, 34% at 64x64 (8 rows: 6-12% and 10%,
        // but 10% slower at 64x64; 32 rows: no change).
        for (Blur k : {a, b}) {
            Func out = k.output.in(), d_out = k.d_output.in();
            out.compute_root();
            d_out.compute_root();
            schedule_blur_cpu(get_target(), k, out, d_out, w, h, boundary, 16, Func(), Var(), 0, 1024);
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
