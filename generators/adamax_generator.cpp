// One Adamax step on a 2-D parameter map (PyTorch's update rule), in place or not.
#include "adamax.h"
#include "schedule.h"

namespace blurmix::gen {

class AdamaxGenerator : public Generator<AdamaxGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};

    Input<Buffer<float, 2>> param{"param"};
    Input<Buffer<float, 2>> exp_avg{"exp_avg"};
    Input<Buffer<float, 2>> exp_inf{"exp_inf"};
    Input<Buffer<float, 2>> grad{"grad"};
    Input<int> step{"step"};  // 1 at the first step
    Input<float> lr{"lr"};
    Input<float> beta1{"beta1"};
    Input<float> beta2{"beta2"};
    Input<float> eps{"eps"};
    Output<Buffer<float, 2>> param_out{"param_out"};
    Output<Buffer<float, 2>> exp_avg_out{"exp_avg_out"};
    Output<Buffer<float, 2>> exp_inf_out{"exp_inf_out"};

    void generate() {
        // Algorithm
        AdamaxState s{param(x, y), exp_avg(x, y), exp_inf(x, y)};
        AdamaxState n = adamax(s, grad(x, y), adamax_rate(step, lr, beta1), beta1, beta2, eps);
        param_out(x, y) = n.param;
        exp_avg_out(x, y) = n.exp_avg;
        exp_inf_out(x, y) = n.exp_inf;

        // Estimates
        const Region map = {{0, kEstimateWidth}, {0, kEstimateHeight}};
        for (auto *in : {&param, &exp_avg, &exp_inf, &grad}) in->set_estimates(map);
        for (auto *out : {&param_out, &exp_avg_out, &exp_inf_out}) out->set_estimates(map);
        step.set_estimate(1);
        lr.set_estimate(0.1f);
        beta1.set_estimate(0.9f);
        beta2.set_estimate(0.999f);
        eps.set_estimate(1e-8f);

        // Schedule
        if (using_autoscheduler() || schedule == Schedule::naive) return;
        if (get_target().has_gpu_feature()) {
            for (Func f : {Func(param_out), Func(exp_avg_out), Func(exp_inf_out)}) {
                gpu_tiles(f);
            }
            return;
        }
        const int vec = natural_vector_size<float>();
        Func outs[] = {param_out, exp_avg_out, exp_inf_out};
        for (Func f : outs) {
            parallel_rows(f, vec);
        }
        outs[1].compute_with(outs[0], x);
        outs[2].compute_with(outs[0], x);
    }

private:
    Var x{"x"}, y{"y"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::AdamaxGenerator, adamax)
