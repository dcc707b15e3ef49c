// The maps a fit reports: weights m = sigmoid(logit) and the recovered sigma
// m s_min + (1 - m) s_max, per pixel (a global logit arrives with zero strides).
#include "mix_and_loss.h"
#include "schedule.h"

namespace blurmix::gen {

class FitMapsGenerator : public Generator<FitMapsGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};

    Input<Buffer<float, 2>> logit{"logit"};
    Input<float> sigma_min{"sigma_min"};
    Input<float> sigma_max{"sigma_max"};
    Output<Buffer<float, 2>> weight{"weight"};
    Output<Buffer<float, 2>> sigma{"sigma"};

    void generate() {
        // Algorithm
        // A global logit arrives with zero strides.
        logit.dim(0).set_stride(Expr());
        Expr m = sigmoid(logit(x, y));
        weight(x, y) = m;
        sigma(x, y) = m * sigma_min + (1.f - m) * sigma_max;

        // Estimates
        logit.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        weight.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        sigma.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}});
        sigma_min.set_estimate(3.f);
        sigma_max.set_estimate(9.f);

        // Schedule
        if (using_autoscheduler() || schedule == Schedule::naive) return;
        if (get_target().has_gpu_feature()) {
            for (Func f : {Func(weight), Func(sigma)}) {
                gpu_tiles(f);
            }
            return;
        }
        const int vec = natural_vector_size<float>();
        for (Func f : {Func(weight), Func(sigma)}) {
            parallel_rows(f, vec);
        }
        Func(sigma).compute_with(weight, x);
        Func(weight).specialize(logit.dim(0).stride() == 1);
    }

private:
    Var x{"x"}, y{"y"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::FitMapsGenerator, fit_maps)
