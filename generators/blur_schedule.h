// The blur's CPU schedule, shared by the generators that compute a blur (and its sigma
// derivative) as a stage of their own: output and d_output are the Funcs the blur is stored in
// (d_output undefined without the derivative), width and height the image's.
#pragma once

#include "taps_and_blur.h"
#include "schedule.h"

namespace blurmix::gen {

// Tiles as wide as the image (8192 pixels at most) and 32 rows high, the tiles in parallel (the
// measurements below were taken with tiles of 1024x64, until the last one). Per tile: the input
// rows it needs (32 + 2r) are copied with the boundary rule applied, so that the vertical pass reads them without a
// test; the vertical pass runs down the tile one column at a time (eight rows of one vector at
// once, below), so the rows it reads stay in L1, over the tile's columns and r more on each
// side; the horizontal pass reads that, one 4-vector group at a time with the tap loop inside.
// (The vertical pass of the input padded in x is the vertical pass padded by the same rule:
// taps_and_blur.h's BlurForm. Where the blur is built with vertical_ext, per-row copies padded
// by the rule, those are made per row in L1 and the horizontal pass reads them.) Accumulators
// live in stack allocations that LLVM keeps in registers, several independent ones hiding the
// FMA latency. Only the padding copies hold the boundary rule, and they are specialized on it.
// Measured on a 2-core AMD EPYC (Zen 4) at 2048x2048, one channel, sigma 9: strips of 32
// rows with accumulators in memory 39 ms; 512x32 tiles with padding 17 ms; register
// accumulators at 4x width 15 ms; 512x64 tiles 8.4 ms (cv::sepFilter2D 34 ms in the same
// run); the vertical pass by columns 6.2 ms (74 GFLOP/s; 17% faster than by rows in an A/B
// run under load); 1024-wide tiles 12% faster than 512 at sigma 1 and 3, the same at 9.
// Tried and dropped: the horizontal pass first, reading the input in place (loop
// partitioning removes the boundary tests) into a per-tile buffer: 1.4x slower; row strips
// with the horizontal result sliding down (Halide did not slide it: every row recomputed
// 2r + 1 rows); taller or shorter tiles (32, 128 rows): no change.
// The horizontal pass reading the vertical pass past the edges rather than per-row padded
// copies (whose edges Halide wrote as scalar gathers): A/B in one binary (bench_blur_lanes, two
// runs, 30 Nov 2026, load 6): sigma 3 11% faster at 2048x2048 and 8192x8192, sigma 1 11% at
// 2048x2048 (-4% to +4% at 8192x8192, memory-bound), sigma 9 -1% to +2%; bit for bit the same.
// Then tiles as wide as the image (up to 8192) and 32 rows high, rather than 1024x64: A/B in one
// binary (bench_blur_lanes, 30 Nov 2026, quiet machine) 1.54x faster at 8192x8192 sigma 1 (35.2
// to 22.9 ms), 1.92x at sigma 3, 1.07x at sigma 9; 1.21x, 1.21x, 1.12x at 2048x2048; 1.48x,
// 0.96x, 1.02x at 512x512. A 1024-wide tile reads each input row as a 4 KiB piece, where the
// hardware prefetchers stop (they do not cross 4 KiB pages), so every row likely began with
// misses: at 8192x8192 the blur was bound by that latency, not by bandwidth or arithmetic
// (sigma 1 and 3 took about the same time, at 23 GB/s). 16 and 24 rows measured within a few % of 32. Tried in the same runs and
// dropped: tap loops unrolled for radii up to 4 (specialized per radius; 1-4% slower at sigma
// 1 and 3), and Halide's prefetch of the input 1 or 3 rows ahead (no change); with these
// tiles, the horizontal groups of 64 or 128 floats (4 or 8 accumulator chains) rather than 32:
// 2-11% slower at sigma 1 and 3, within 2% at sigma 9. The horizontal tap loop (half the samples
// at sigma 9, 2048x2048) is bound by its loads: per tap and group of 32, four misaligned 64-byte
// loads (each split across two cache lines) and a broadcast, for two FMAs and two adds. The
// per-tile copy of the input (half the samples at sigma 1) is what lets the vertical pass run
// without tests: the vertical pass reading the input in place through the boundary rule, its
// loops partitioned by Halide and specialized per rule, was 2x slower at sigma 1 and 4-6x at 9
// (A/B, 2048x2048 and 8192x8192, 30 Nov 2026); the input copied per column strip of the
// vertical pass (one vector wide, so that it stays in L1) rather than per tile: 1.2x to 1.6x
// slower (it reads the image in 64-byte pieces of each row); and with no boundary rule at all
// (a padded input read in place, as a pipeline for the image's interior would), 8192x8192
// tiles shifted inwards: 1.5x slower at sigma 1 and 3, 1.1x faster at 9. The copy pays for itself.
// Since 1 Dec 2026 the horizontal pass, where the target has AVX-512, is the hand-written kernel
// of kernels/horizontal_pass_avx512.cpp, called once a tile and channel as the output itself
// (taps_and_blur.h's use_horizontal_pass_kernel): its shifted vectors come from valignd on a few
// loads a block of taps rather than from a misaligned load each. A/B in one binary against the
// pass above (bench_blur_lanes, variant _halide; GCC 12, 1 Dec 2026, load 1 to 2): 1.17x, 1.15x,
// 1.18x at 512x512 sigma 1, 3, 9; 1.10x, 1.18x, 1.20x at 2048x2048; 1.08x, 1.14x, 1.20x at
// 8192x8192; bit for bit the same output. The kernel called a row at a time into a buffer that
// the output then copied was 0.83-0.89x at sigma 1 and 3 and 1.06x at 9: the copy cost what the
// kernel saved. The output's tiles are then at most the image's size and shifted inwards (an
// extern stage has no per-pixel guard, so a tile past the edge would be written past it).
// fit_sigma_step's paired passes likewise, by the paired kernel, once a strip (its generator has
// the A/B).
// tile_h, tile_w: the tiles' height and width at most (fit_sigma_step passes other ones). at,
// at_var: where output and d_output are computed; undefined, at root in tiles as said, else at the loop at_var
// of the consumer at, whole there (the consumer's strip of rows is then the tile).
inline void schedule_blur_cpu(const Target &target, Blur b, Func output, Func d_output, Expr width,
                              Expr height, Expr boundary, int tile_h = 32,
                              Func at = Func(), Var at_var = Var(), int h_lanes = 0, int tile_w = 8192) {
    Var x("x"), y("y"), xo("xo"), yo("yo"), xi("xi"), yi("yi"), tile("tile");
    const bool with_derivative = d_output.defined();
    const int natural = target.natural_vector_size<float>();
    const int vec = natural * 2;
    // The horizontal pass in groups of 32 floats (hvec * 2) where AVX-512 would give 64: its
    // loads are shifted by one float per tap, and a misaligned 64-byte load always straddles
    // two cache lines (a 32-byte one half the time). 5-8% faster at sigma 1, 3 and 9 in four
    // A/B runs on the Zen 4 machine (2048x2048, sigma 9: 5.6 vs 6.0 ms). LLVM still computes a
    // group as two 512-bit vectors: the same group as four 256-bit vectors (h_lanes = 8) was
    // 5-26% slower at sigma 1, 3, 9 on 2048x2048 and 8192x8192 (apps/bench_blur_lanes, one
    // run, 30 Nov 2026, load 6), though fit_sigma_step's paired passes gain 2-3% from it.
    const int hvec = std::min(natural, 8) * 2;
    std::vector<Func> outs = {output};
    if (with_derivative) outs.push_back(d_output);
    // A tile pads and passes its whole width and height, even past the image's edge: tiles
    // of equal size, at most tile_w x tile_h, that cover the image with little to spare
    // (1024-wide tiles on a 64x64 image took 12x longer than 64-wide ones).
    auto even = [](Expr extent, int most, int multiple) {
        Expr tiles = (extent + most - 1) / most;
        return ((extent + tiles - 1) / tiles + multiple - 1) / multiple * multiple;
    };
    const Expr tw = even(width, tile_w, vec * 2), th = even(height, tile_h, 8);
    const bool tiled = !at.defined();
    // The hand-written kernel's pair computed per strip (at): the outputs read it where it is.
    const bool pair_kernel = b.kernel_input.defined() && b.output_pair.defined();
    for (Func out : outs) {
        if (pair_kernel) break;
        if (tiled) {
            if (out.is_extern()) {
                // The hand-written horizontal pass writes the output itself, over whole tiles:
                // no tile may pass the image's edge (an extern stage has no per-pixel guard), so
                // the tiles are at most the image's size and the last ones shifted inwards
                // (computing a few columns or rows twice, to the same values). Its own loops
                // (those it is called over) must be innermost: a channel a call, in the tile.
                Var c = out.args()[2], co("co"), ci("ci");
                out.tile(x, y, xo, yo, xi, yi, min(tw, width), min(th, height), TailStrategy::ShiftInwards)
                    .fuse(xo, yo, tile)
                    .parallel(tile)
                    .split(c, co, ci, 1)
                    .reorder(xi, yi, ci, tile, co);
            } else {
                out.tile(x, y, xo, yo, xi, yi, tw, th, TailStrategy::GuardWithIf)
                    .fuse(xo, yo, tile)
                    .parallel(tile);
            }
        } else {
            // The same loop names as a tile's, with the consumer's loop as the tile.
            out.compute_at(at, at_var).rename(x, xi).rename(y, yi);
        }
        if (!out.is_extern()) out.vectorize(xi, hvec * 2, TailStrategy::GuardWithIf);
    }
    const bool paired = b.output_pair.defined();
    // Paired passes: the pass and its derivative are one Func, which both outputs read, so
    // their loops are fused down to the vector group it is computed in.
    if (with_derivative && !pair_kernel) outs[1].compute_with(outs[0], paired ? xi : yi);
    const LoopLevel tile_level = tiled ? LoopLevel(outs[0], tile) : LoopLevel(at, at_var);
    b.input.compute_at(tile_level).vectorize(x, vec);
    std::vector<Func> verticals = {b.vertical}, exts = {b.vertical_ext}, horizontals = {b.output};
    if (paired) {
        verticals = {b.vertical_pair};
        exts.push_back(b.d_vertical_ext);
        horizontals = {b.output_pair};
    } else if (with_derivative) {
        verticals.push_back(b.d_vertical);
        exts.push_back(b.d_vertical_ext);
        horizontals.push_back(b.d_output);
    }
    if (!b.vertical_ext.defined()) exts.clear();  // the horizontal pass reads the vertical one
    // The vertical pass runs down each column of the tile one vector wide, eight output rows
    // at a time with the tap loop unrolled by eight inside: the 8 x 8 (row, tap) pairs read only
    // 30 distinct input rows, and LLVM loads each once, where one row at a time loaded two per
    // tap pair. The pass is then bound by its adds and FMAs rather than by loads: 12% faster at
    // sigma 9 and 7-10% at sigma 3 in three A/B runs on the Zen 4 machine, sigma 1 unchanged.
    // (Four rows where vectors are 256-bit: AVX2 has half the registers.)
    const int rows = natural >= 16 ? 8 : 4, taps = 8;
    for (Func f : verticals) {
        Var ys("ys"), yr("yr");
        Func strip = b.kernel_input.defined() ? b.kernel_input : f.in();
        strip.compute_at(tile_level).split(x, xo, xi, natural, TailStrategy::RoundUp)
            .split(y, ys, yr, rows, TailStrategy::RoundUp)
            .reorder(xi, yr, ys, xo).vectorize(xi).unroll(yr);
        f.compute_at(strip, ys).vectorize(x).unroll(y);
        RVar r = f.rvars(0)[0], ro("ro"), ri("ri");
        f.update().split(r, ro, ri, taps, TailStrategy::GuardWithIf)
            .reorder(x, y, ri, ro).vectorize(x).unroll(y).unroll(ri);
    }
    for (size_t i = 0; i < exts.size(); i++) {
        exts[i].compute_at(outs[paired ? 0 : i], yi).vectorize(x, vec);
    }
    for (size_t i = 0; i < horizontals.size(); i++) {
        // The hand-written kernel (taps_and_blur.h's use_horizontal_pass_kernel): the output,
        // called once a tile and channel, or the pair, called once a strip of the consumer's.
        if (horizontals[i].is_extern()) {
            if (!tiled) horizontals[i].compute_at(tile_level);
            continue;
        }
        horizontals[i].compute_at(outs[i], xi);
        // (Both outputs' loops ask for the pair over the group; their union's extent is not a
        // constant to Halide, though it is always the group's.)
        if (paired) horizontals[i].bound_extent(x, hvec * 2);
        if (h_lanes > 0) {
            // Vectors of h_lanes, all of the group's for each tap.
            Var xv("xv"), xu("xu");
            RVar r = horizontals[i].rvars(0)[0];
            horizontals[i].split(x, xu, xv, h_lanes).vectorize(xv).unroll(xu);
            horizontals[i].update().split(x, xu, xv, h_lanes).reorder(xv, xu, r).vectorize(xv).unroll(xu);
        } else {
            horizontals[i].vectorize(x);
            horizontals[i].update().vectorize(x);
        }
    }
    std::vector<Func> padded = exts;
    padded.push_back(b.input);
    for (Func f : padded) {
        f.specialize(boundary == (int)Boundary::zero);
        f.specialize(boundary == (int)Boundary::clamp);
    }
}

}  // namespace blurmix::gen
