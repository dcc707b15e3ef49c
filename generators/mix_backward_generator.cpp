// The pipelines that PyTorch's backward pass needs and the fit's pipelines do not provide: the
// fit's gradients are those of its own loss (the mean squared error against a target), while
// autograd hands a backward pass an arbitrary gradient G of the output.
//   mix_backward: for x_hat = m A + (1 - m) B, m = sigmoid(logit), given G = d L / d x_hat:
//     d L / d A = m G, d L / d B = (1 - m) G, d L / d logit = sum_c G (A - B) m (1 - m) per pixel
//     and its total (one global logit); with_sigmas (mix_backward_sigmas) also
//     d L / d s_min = sum G m dA/ds and d L / d s_max = sum G (1 - m) dB/ds from the blurs'
//     sigma derivatives.
//   inner_product: sum over the image of a * b, in double: d L / d sigma of one blur is
//     sum G dB/ds.
// Built for the CPU targets only (generators/CMakeLists.txt: the Python package's backward pass;
// CUDA tensors are not taken yet).
#include "mix_and_loss.h"
#include "row_sums.h"
#include "schedule.h"

namespace blurmix::gen {

class MixBackwardGenerator : public Generator<MixBackwardGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};
    GeneratorParam<bool> with_sigmas{"with_sigmas", false};

    Input<Buffer<float, 3>> blur_min{"blur_min"};
    Input<Buffer<float, 3>> blur_max{"blur_max"};
    Input<Buffer<float, 2>> logit{"logit"};  // zero strides for one global logit
    Input<Buffer<float, 3>> grad{"grad"};     // d L / d x_hat
    Input<Buffer<float, 3>> *d_blur_min = nullptr, *d_blur_max = nullptr;

    Output<Buffer<float, 3>> grad_blur_min{"grad_blur_min"};
    Output<Buffer<float, 3>> grad_blur_max{"grad_blur_max"};
    Output<Buffer<float, 2>> d_logit{"d_logit"};
    Output<Buffer<double, 0>> d_logit_total{"d_logit_total"};
    Output<Buffer<double, 0>> *d_sigma_min = nullptr, *d_sigma_max = nullptr;

    void configure() {
        if (with_sigmas) {
            d_blur_min = add_input<Buffer<float, 3>>("d_blur_min");
            d_blur_max = add_input<Buffer<float, 3>>("d_blur_max");
            d_sigma_min = add_output<Buffer<double, 0>>("d_sigma_min");
            d_sigma_max = add_output<Buffer<double, 0>>("d_sigma_max");
        }
    }

    void generate() {
        // Algorithm
        Expr w = blur_min.width(), h = blur_min.height(), ch = blur_min.channels();
        Func weight("weight");
        weight(x, y) = sigmoid(logit(x, y));  // the mix's own weight (mix_and_loss.h)
        Expr m = weight(x, y);
        grad_blur_min(x, y, c) = m * grad(x, y, c);
        grad_blur_max(x, y, c) = (1.f - m) * grad(x, y, c);
        RDom rc(0, ch, "rc");
        Func d_weight("d_weight");
        d_weight(x, y) = 0.f;
        d_weight(x, y) += grad(x, y, rc) * (blur_min(x, y, rc) - blur_max(x, y, rc));
        d_logit(x, y) = d_weight(x, y) * m * (1.f - m);
        MapTotal total = map_total(d_logit, w, h, "d_logit_total");
        d_logit_total() = total.total();
        Func sigma_rows("sigma_rows");
        if (with_sigmas) {
            RDom rxc(0, w, 0, ch, "rxc");
            Expr mr = weight(rxc.x, y), g = grad(rxc.x, y, rxc.y);
            sigma_rows(i, y) = 0.f;
            sigma_rows(i, y) += g * select(i == 0, mr * (*d_blur_min)(rxc.x, y, rxc.y),
                                           (1.f - mr) * (*d_blur_max)(rxc.x, y, rxc.y));
            Func totals = column_total(sigma_rows, h, "sigma_totals");
            (*d_sigma_min)() = totals(0);
            (*d_sigma_max)() = totals(1);
        }

        logit.dim(0).set_stride(Expr());

        // Estimates
        const Region image = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}};
        for (auto *in : {&blur_min, &blur_max, &grad}) in->set_estimates(image);
        logit.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        grad_blur_min.set_estimates(image);
        grad_blur_max.set_estimates(image);
        d_logit.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        if (with_sigmas) {
            d_blur_min->set_estimates(image);
            d_blur_max->set_estimates(image);
        }

        // Schedule
        if (using_autoscheduler()) return;
        if (schedule == Schedule::naive) {
            compute_all_root({weight, d_weight, total.rows});
            if (with_sigmas) sigma_rows.compute_root();
            return;
        }
        // The CPU only: the extension is built for the CPU targets (no GPU tensors yet).
        // Memory bound: rows in parallel, vectors along x; the per-row sums as the fit's are.
        const int vec = natural_vector_size<float>();
        for (Func f : {Func(grad_blur_min), Func(grad_blur_max), Func(d_logit)}) {
            parallel_rows(f, vec);
            f.specialize(logit.dim(0).stride() == 1);
        }
        d_weight.compute_at(d_logit, x).vectorize(x);
        d_weight.update().vectorize(x);
        vectorized_row_sum(total.rows, vec);
        if (with_sigmas) vectorized_row_sum(sigma_rows, vec);
    }

private:
    Var x{"x"}, y{"y"}, c{"c"}, i{"i"};
};

class InnerProductGenerator : public Generator<InnerProductGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};

    Input<Buffer<float, 3>> a{"a"};
    Input<Buffer<float, 3>> b{"b"};
    Output<Buffer<double, 0>> total{"total"};

    void generate() {
        // Algorithm
        RDom rxc(0, a.width(), 0, a.channels(), "rxc");
        Func rows("rows");
        rows(y) = 0.f;
        rows(y) += a(rxc.x, y, rxc.y) * b(rxc.x, y, rxc.y);
        total() = column_total(rows, a.height(), "inner_product_total")();

        // Estimates
        const Region image = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}};
        a.set_estimates(image);
        b.set_estimates(image);

        // Schedule
        if (using_autoscheduler()) return;
        if (schedule == Schedule::naive) {
            rows.compute_root();
            return;
        }
        vectorized_row_sum(rows, natural_vector_size<float>());
    }

private:
    Var y{"y"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::MixBackwardGenerator, mix_backward)
HALIDE_REGISTER_GENERATOR_ALIAS(mix_backward_sigmas, mix_backward, {{"with_sigmas", "true"}})
HALIDE_REGISTER_GENERATOR(blurmix::gen::InnerProductGenerator, inner_product)
