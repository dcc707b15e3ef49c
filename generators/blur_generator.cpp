// The separable Gaussian blur; with with_derivative=true (registered as blur_with_derivative) it
// also outputs d output / d sigma, for fits that learn the sigmas.
#include "taps_and_blur.h"
#include "blur_schedule.h"

namespace blurmix::gen {

class BlurGenerator : public Generator<BlurGenerator> {
public:
    GeneratorParam<Schedule> schedule{"schedule", Schedule::manual, schedule_names};
    GeneratorParam<bool> with_derivative{"with_derivative", false};
    // The CPU horizontal pass's vector width in lanes (0: the whole group of 32 as one vector,
    // which LLVM splits into 512-bit ones where there are), for A/B runs (apps/bench_blur_lanes).
    GeneratorParam<int> h_lanes{"h_lanes", 0};
    // The horizontal pass reads copies of the vertical rows extended by the boundary rule (true,
    // as before) or the vertical pass itself past the edges (taps_and_blur.h's BlurForm;
    // blur_schedule.h has the A/B), for A/B runs.
    GeneratorParam<bool> ext_copies{"ext_copies", false};
    // The CPU tiles' width and height at most (blur_schedule.h), for A/B runs.
    GeneratorParam<int> tile_width{"tile_width", 8192};
    GeneratorParam<int> tile_height{"tile_height", 32};
    // The CPU horizontal pass by the hand-written AVX-512 kernel where the target has AVX-512
    // (taps_and_blur.h's use_horizontal_pass_kernel; blur_schedule.h has the A/B), or by Halide's loop.
    GeneratorParam<bool> horizontal_kernel{"horizontal_kernel", true};

    Input<Buffer<float, 3>> input{"input"};
    Input<float> sigma{"sigma"};
    Input<float> std_devs{"std_devs"};
    Input<int> boundary{"boundary"};  // a Boundary (definitions.h)
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
                      with_derivative, "blur", ext_copies ? BlurForm::separate : BlurForm::separate_no_ext);
        if (horizontal_kernel && !with_derivative && !ext_copies && schedule == Schedule::manual &&
            !using_autoscheduler() && has_horizontal_pass_kernel(get_target())) {
            use_horizontal_pass_kernel(b, "blur");
        }
        if (b.kernel_input.defined()) {
            output = b.output;  // the kernel writes the output's tiles itself
        } else {
            output(x, y, c) = b.output(x, y, c);
        }
        if (with_derivative) {
            (*d_output)(x, y, c) = b.d_output(x, y, c);
        }

        // Estimates
        const Region image = {{0, kEstimateWidth}, {0, kEstimateHeight}, {0, kEstimateChannels}};
        input.set_estimates(image);
        sigma.set_estimate(3.f);
        std_devs.set_estimate(2.f);
        boundary.set_estimate((int)Boundary::zero);
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
            Func d_out = with_derivative ? Func(*d_output) : Func();
            schedule_blur_cpu(get_target(), b, output, d_out, output.width(), output.height(),
                              boundary, tile_height, Func(), Var(), h_lanes, tile_width);
        }
    }

private:
    Var x{"x"}, y{"y"}, c{"c"}, xi{"xi"};

    // Tiles of 32x8 pixels over blocks and threads, channels over blocks too; each pass is a
    // kernel of its own, the vertical result in global memory. (Staging the vertical pass per
    // block in shared memory, with the taps, was correct at 64x64 but PoCL refused its launch at
    // 512x512 with CL_INVALID_WORK_GROUP_SIZE; left for a machine with a GPU to tune.)
    void schedule_gpu(Blur &b) {
        auto tile = [&](Func f) {
            f.compute_root();
            std::vector<Stage> stages = {Stage(f)};
            if (f.has_update_definition()) stages.push_back(f.update());
            for (Stage s : stages) {
                gpu_tiles(s).gpu_blocks(c);
            }
        };
        tile(output);
        b.output.compute_at(output, xi);
        tile(b.vertical);
        if (with_derivative) {
            tile(*d_output);
            b.d_output.compute_at(*d_output, xi);
            tile(b.d_vertical);
        }
    }
};

}  // namespace blurmix::gen

HALIDE_REGISTER_GENERATOR(blurmix::gen::BlurGenerator, blur)
HALIDE_REGISTER_GENERATOR_ALIAS(blur_with_derivative, blur, {{"with_derivative", "true"}})
