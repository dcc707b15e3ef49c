// The loss of the mix against a target and its analytic gradient with respect to the logits:
// per pixel (local mode) and summed (one global logit). With with_sigmas=true (registered as
// mix_gradient_sigmas) also d loss / d sigma_min and d sigma_max, from the blurs' sigma
// derivatives.
#include "mix_and_loss.h"
#include "row_sums.h"
#include "schedule.h"

namespace blurmix::gen {

class MixGradientGenerator : public Generator<MixGradientGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};
    GeneratorParam<bool> with_sigmas{"with_sigmas", false};

    Input<Buffer<float, 3>> blur_min{"blur_min"};
    Input<Buffer<float, 3>> blur_max{"blur_max"};
    Input<Buffer<float, 2>> logit{"logit"};  // zero strides for one global logit
    Input<Buffer<float, 3>> target{"target_image"};
    Input<Buffer<float, 3>> *d_blur_min = nullptr, *d_blur_max = nullptr;

    Output<Buffer<float, 0>> loss{"loss"};
    Output<Buffer<float, 2>> d_logit{"d_logit"};
    Output<Buffer<double, 0>> d_logit_total{"d_logit_total"};
    Output<Buffer<float, 0>> *d_sigma_min = nullptr, *d_sigma_max = nullptr;

    void configure() {
        if (with_sigmas) {
            d_blur_min = add_input<Buffer<float, 3>>("d_blur_min");
            d_blur_max = add_input<Buffer<float, 3>>("d_blur_max");
            d_sigma_min = add_output<Buffer<float, 0>>("d_sigma_min");
            d_sigma_max = add_output<Buffer<float, 0>>("d_sigma_max");
        }
    }

    void generate() {
        // Algorithm
        // A global logit arrives with zero strides.
        logit.dim(0).set_stride(Expr());
        Expr w = blur_min.width(), h = blur_min.height(), ch = blur_min.channels();
        Mix m = mix(blur_min, blur_max, logit, target, w, h, ch);
        loss() = m.loss();
        d_logit(x, y) = m.d_logit(x, y);
        MapTotal total = map_total(d_logit, w, h, "d_logit_total");
        d_logit_total() = total.total();
        SigmaGrad s;
        if (with_sigmas) {
            s = sigma_grad(m, *d_blur_min, *d_blur_max, w, h, ch);
            (*d_sigma_min)() = s.d_sigma_min();
            (*d_sigma_max)() = s.d_sigma_max();
        }

        // Estimates
        const Region image = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}};
        for (auto *in : {&blur_min, &blur_max, &target}) in->set_estimates(image);
        logit.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        d_logit.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        if (with_sigmas) {
            d_blur_min->set_estimates(image);
            d_blur_max->set_estimates(image);
        }

        // Schedule
        if (using_autoscheduler()) return;
        std::vector<Func> roots = {m.row_loss, m.d_weight, total.rows};
        if (with_sigmas) roots.push_back(s.rows);
        if (schedule == Schedule::naive) {
            for (Func f : roots) f.compute_root();
            return;
        }
        if (get_target().has_gpu_feature()) {
            schedule_gpu(m, s, total);
        } else {
            schedule_cpu(m, s, total);
        }
    }

private:
    Var x{"x"}, y{"y"}, xi{"xi"};

    // Per-pixel gradients in 32x8 tiles over blocks and threads; the row sums as gpu_row_sum
    // (schedule.h) does them.
    void schedule_gpu(Mix &m, SigmaGrad &s, MapTotal &total) {
        gpu_tiles(d_logit);
        m.d_weight.compute_at(d_logit, xi);
        gpu_row_sum(m.row_loss);
        gpu_row_sum(total.rows);
        if (with_sigmas) gpu_row_sum(s.rows);
    }

    // Rows in parallel. The per-row sums are vectorized by rfactor over a lane index; the
    // residual is recomputed by each sum rather than stored, as the pass is memory bound.
    void schedule_cpu(Mix &m, SigmaGrad &s, MapTotal &total) {
        const int vec = natural_vector_size<float>();
        parallel_rows(d_logit, vec);
        d_logit.specialize(logit.dim(0).stride() == 1);
        m.d_weight.compute_at(d_logit, x).vectorize(x);
        m.d_weight.update().vectorize(x);
        vectorized_row_sum(m.row_loss, vec);
        vectorized_row_sum(total.rows, vec);
        if (with_sigmas) vectorized_row_sum(s.rows, vec);
    }
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::MixGradientGenerator, mix_gradient)
HALIDE_REGISTER_GENERATOR_ALIAS(mix_gradient_sigmas, mix_gradient, {{"with_sigmas", "true"}})
