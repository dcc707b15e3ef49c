// The separable Gaussian blur; with with_derivative=true (registered as blur_with_derivative) it
// also outputs d output / d sigma, for fits that learn the sigmas.
#include "algorithm.h"
#include "schedule.h"

namespace blurmix {

class BlurGenerator : public Generator<BlurGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};
    GeneratorParam<bool> with_derivative{"with_derivative", false};

    Input<Buffer<float, 3>> input{"input"};
    Input<float> sigma{"sigma"};
    Input<float> std_devs{"std_devs"};
    Input<int> boundary{"boundary"};  // BoundaryKind
    Output<Buffer<float, 3>> output{"output"};
    Output<Buffer<float, 3>> *d_output = nullptr;

    void configure() {
        if (with_derivative) {
            d_output = add_output<Buffer<float, 3>>("d_output");
        }
    }

    void generate() {
        // Algorithm
        Blur b = blur(input, input.width(), input.height(), sigma, std_devs, boundary,
                      with_derivative, "blur");
        output(x, y, c) = b.output(x, y, c);
        if (with_derivative) {
            (*d_output)(x, y, c) = b.d_output(x, y, c);
        }

        // Estimates
        const Region image = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}};
        input.set_estimates(image);
        sigma.set_estimate(3.f);
        std_devs.set_estimate(2.f);
        boundary.set_estimate(kZero);
        output.set_estimates(image);
        if (with_derivative) d_output->set_estimates(image);

        // Schedule
        if (using_autoscheduler()) return;
        for (Func f : {b.taps.sum, b.taps.w, b.taps.m2, b.taps.dw}) f.compute_root();
        std::vector<Func> stages = {b.vertical, b.output};
        if (with_derivative) stages.insert(stages.end(), {b.d_vertical, b.d_output});
        if (schedule == Schedule::naive) {
            for (Func f : stages) f.compute_root();
            return;
        }
        if (get_target().has_gpu_feature()) {
            schedule_gpu(b);
        } else {
            schedule_cpu(stages);
        }
    }

private:
    Var x{"x"}, y{"y"}, c{"c"}, yo{"yo"}, yi{"yi"}, xo{"xo"}, xi{"xi"}, t{"t"}, to{"to"}, ti{"ti"};

    // Tiles of 32x8 pixels over blocks and threads, channels over blocks too. For the blur, a
    // block computes its tile's vertical pass (8 rows, 32 + 2r columns) into shared memory and
    // the horizontal pass from there, with the taps copied into shared memory once per block:
    // (32 + 2r) x 8 x 4 bytes of shared memory. With the derivative both outputs read both
    // vertical passes, so those are whole kernels of their own and the taps stay in global memory.
    void schedule_gpu(Blur &b) {
        auto tile = [&](Func f) {
            f.compute_root();
            std::vector<Stage> stages = {Stage(f)};
            if (f.has_update_definition()) stages.push_back(f.update());
            for (Stage s : stages) {
                s.gpu_tile(x, y, xo, yo, xi, yi, 32, 8, TailStrategy::GuardWithIf).gpu_blocks(c);
            }
        };
        tile(output);
        b.output.compute_at(output, xi);
        if (with_derivative) {
            tile(*d_output);
            b.d_output.compute_at(*d_output, xi);
            tile(b.vertical);
            tile(b.d_vertical);
            return;
        }
        b.taps.w.in({b.vertical, b.output})
            .compute_at(output, xo)
            .split(t, to, ti, 32, TailStrategy::GuardWithIf)
            .gpu_threads(ti);
        b.vertical.compute_at(output, xo);
        for (Stage s : {Stage(b.vertical), b.vertical.update()}) {
            s.split(x, xo, xi, 32, TailStrategy::GuardWithIf).gpu_threads(xi, y);
        }
    }

    // Strips of 32 rows in parallel; a strip's vertical pass stays in L2 for its horizontal pass,
    // which runs a row at a time into L1; x vectorized at twice the natural width with the tap
    // loop inside the vector loop, so each vector accumulates in registers. Each stage is
    // specialized on the boundary, so its compiled loops keep one rule.
    void schedule_cpu(const std::vector<Func> &stages) {
        const int vec = natural_vector_size<float>() * 2;
        std::vector<Func> outs = {output};
        if (with_derivative) outs.push_back(*d_output);
        for (Func out : outs) {
            out.split(y, yo, yi, 32, TailStrategy::GuardWithIf)
                .parallel(yo)
                .vectorize(x, vec, TailStrategy::GuardWithIf);
        }
        if (with_derivative) outs[1].compute_with(outs[0], yi);
        for (size_t i = 0; i < stages.size(); i++) {
            Func f = stages[i];
            const bool horizontal = i % 2 == 1;
            if (horizontal) {
                f.compute_at(outs[i / 2], yi);
            } else {
                f.compute_at(outs[0], yo);
            }
            f.vectorize(x, vec);
            f.update().vectorize(x, vec);
            for (Stage s : {Stage(f), f.update()}) {
                s.specialize(boundary == kZero);
                s.specialize(boundary == kClamp);
            }
        }
    }
};

}  // namespace blurmix

HALIDE_REGISTER_GENERATOR(blurmix::BlurGenerator, blur)
HALIDE_REGISTER_GENERATOR_ALIAS(blur_with_derivative, blur, {{"with_derivative", "true"}})
