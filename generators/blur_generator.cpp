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
            schedule_cpu(b);
        }
    }

private:
    Var x{"x"}, y{"y"}, c{"c"}, yo{"yo"}, yi{"yi"}, xo{"xo"}, xi{"xi"}, t{"t"}, to{"to"}, ti{"ti"}, tile{"tile"};

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
                s.gpu_tile(x, y, xo, yo, xi, yi, 32, 8, TailStrategy::GuardWithIf).gpu_blocks(c);
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

    // Tiles of 1024x64 pixels, the tiles in parallel. Per tile: the input rows it needs (64 + 2r)
    // are copied with the boundary rule applied, so that the vertical pass reads them without a
    // test; the vertical pass runs down the tile one column of vectors at a time, so the 2r + 1
    // rows a vector reads stay in L1 from one output row to the next; then per row the vertical
    // result is padded likewise (in L1) and the horizontal pass reads that. Each pass is
    // computed one vector of 4x the natural width at a time, with the tap loop inside, into a
    // stack allocation that LLVM keeps in registers: four independent accumulators hide the FMA
    // latency. Only the padding copies hold the boundary rule, and they are specialized on it.
    // Measured on a 2-core AMD EPYC (Zen 4) at 2048x2048, one channel, sigma 9: strips of 32
    // rows with accumulators in memory 39 ms; 512x32 tiles with padding 17 ms; register
    // accumulators at 4x width 15 ms; 512x64 tiles 8.4 ms (cv::sepFilter2D 34 ms in the same
    // run); the vertical pass by columns 6.2 ms (74 GFLOP/s; 17% faster than by rows in an A/B
    // run under load); 1024-wide tiles 12% faster than 512 at sigma 1 and 3, the same at 9.
    // Tried and dropped: the horizontal pass first, reading the input in place (loop
    // partitioning removes the boundary tests) into a per-tile buffer: 1.4x slower; row strips
    // with the horizontal result sliding down (Halide did not slide it: every row recomputed
    // 2r + 1 rows).
    void schedule_cpu(Blur &b) {
        const int vec = natural_vector_size<float>() * 2;
        const int tile_w = 1024, tile_h = 64;
        std::vector<Func> outs = {output};
        if (with_derivative) outs.push_back(*d_output);
        // A tile pads and passes its whole width and height, even past the image's edge: tiles
        // of equal size, at most tile_w x tile_h, that cover the image with little to spare
        // (1024-wide tiles on a 64x64 image took 12x longer than 64-wide ones).
        auto even = [](Expr extent, int most, int multiple) {
            Expr tiles = (extent + most - 1) / most;
            return ((extent + tiles - 1) / tiles + multiple - 1) / multiple * multiple;
        };
        const Expr tw = even(output.width(), tile_w, vec * 2), th = even(output.height(), tile_h, 8);
        for (Func out : outs) {
            out.tile(x, y, xo, yo, xi, yi, tw, th, TailStrategy::GuardWithIf)
                .fuse(xo, yo, tile)
                .parallel(tile)
                .vectorize(xi, vec * 2, TailStrategy::GuardWithIf);
        }
        if (with_derivative) outs[1].compute_with(outs[0], yi);
        b.input.compute_at(outs[0], tile).vectorize(x, vec);
        std::vector<Func> verticals = {b.vertical}, exts = {b.vertical_ext}, horizontals = {b.output};
        if (with_derivative) {
            verticals.push_back(b.d_vertical);
            exts.push_back(b.d_vertical_ext);
            horizontals.push_back(b.d_output);
        }
        for (Func f : verticals) {
            Func strip = f.in();
            strip.compute_at(outs[0], tile).split(x, xo, xi, vec * 2, TailStrategy::RoundUp)
                .reorder(xi, y, xo).vectorize(xi);
            f.compute_at(strip, y).vectorize(x);
            f.update().vectorize(x);
        }
        for (size_t i = 0; i < exts.size(); i++) {
            exts[i].compute_at(outs[i], yi).vectorize(x, vec);
            horizontals[i].compute_at(outs[i], xi).vectorize(x);
            horizontals[i].update().vectorize(x);
        }
        std::vector<Func> padded = exts;
        padded.push_back(b.input);
        for (Func f : padded) {
            f.specialize(boundary == kZero);
            f.specialize(boundary == kClamp);
        }
    }
};

}  // namespace blurmix

HALIDE_REGISTER_GENERATOR(blurmix::BlurGenerator, blur)
HALIDE_REGISTER_GENERATOR_ALIAS(blur_with_derivative, blur, {{"with_derivative", "true"}})
