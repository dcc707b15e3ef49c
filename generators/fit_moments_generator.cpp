// The per-pixel moments (a, b, c) of a fit with fixed blurs, and their totals: what the fused
// fit (fit_steps) iterates on instead of the images.
#include "moments.h"
#include "row_sums.h"
#include "schedule.h"

namespace blurmix::gen {

class FitMomentsGenerator : public Generator<FitMomentsGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};

    Input<Buffer<float, 3>> blur_min{"blur_min"};
    Input<Buffer<float, 3>> blur_max{"blur_max"};
    Input<Buffer<float, 3>> target{"target_image"};
    Output<Buffer<float, 3>> moments_out{"moments"};  // (x, y, 3)
    Output<Buffer<double, 1>> totals{"totals"};       // (3)

    void generate() {
        // Algorithm
        Func m = moments(blur_min, blur_max, target, blur_min.channels());
        moments_out(x, y, j) = m(x, y, j);
        MapTotal t = map_total(moments_out, blur_min.width(), blur_min.height(), "moment_totals");
        totals(j) = t.total(j);

        // Estimates
        const Region image = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}};
        for (auto *in : {&blur_min, &blur_max, &target}) in->set_estimates(image);
        moments_out.set_estimates({{0, kEstimateWidth}, {0, kEstimateHeight}, {0, 3}});
        totals.set_estimates({{0, 3}});

        // Schedule
        if (using_autoscheduler()) return;
        moments_out.bound(j, 0, 3);
        totals.bound(j, 0, 3);
        if (schedule == Schedule::naive) {
            m.compute_root();
            t.rows.compute_root();
            return;
        }
        if (get_target().has_gpu_feature()) {
            // A thread per pixel computes its three moments; rows sum as gpu_row_sum does.
            gpu_tiles(moments_out.reorder(j, x, y).unroll(j));
            m.compute_at(moments_out, xi).unroll(j);
            m.update().unroll(j);
            gpu_row_sum(t.rows);
            return;
        }
        // One pass over the three images: rows in parallel, the three moments of a vector of
        // pixels computed together (j unrolled); the row sums read the moments output back.
        const int vec = natural_vector_size<float>();
        moments_out.reorder(j, x, y).unroll(j)
            .split(y, yo, yi, 8, TailStrategy::GuardWithIf).parallel(yo)
            .vectorize(x, vec, TailStrategy::GuardWithIf);
        m.compute_at(moments_out, x).reorder(j, x).unroll(j).vectorize(x);
        m.update().reorder(j, x).unroll(j).vectorize(x);
        t.rows.compute_root().parallel(y);
        t.rows.update().reorder(j, t.rows.rvars(0)[0]).unroll(j);
    }

private:
    Var x{"x"}, y{"y"}, j{"j"}, xi{"xi"}, yo{"yo"}, yi{"yi"};
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::FitMomentsGenerator, fit_moments)
