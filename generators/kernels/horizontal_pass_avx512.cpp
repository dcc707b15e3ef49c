// The blur's horizontal pass written by hand for AVX-512, called by the generated blur as an
// extern stage (taps_and_blur.h's horizontal_pass_kernel) where the target has AVX-512 and the
// schedule is the manual one. It computes what taps_and_blur.h's pass() computes along x,
//   out(x) = w(0) v(x) + sum_{t=1..R} w(t) (v(x - t) + v(x + t)),
// summing the taps in the same order, so the two agree to float rounding of the same sums.
//
// Why by hand: the pass needs, for every tap, the row shifted by one more float. Halide (and a
// plain loop) loads each shifted vector from memory: a misaligned 64-byte load that straddles two
// cache lines, two of them per tap pair and vector, which bound the pass by its loads (about
// 3.7 cycles per tap pair and 16 outputs on the Zen 4 machine, against 1 for its FMA). Here taps
// come in blocks of 8: a block loads G + 1 vectors on each side once and builds the 8 shifted
// vectors of each side from neighbouring pairs with valignd, which runs on the shuffle ports,
// beside the loads and the FMAs. Nothing in Halide's scheduling asks for that on x86 (a row
// segment held in MemoryType::Register was still stored and reloaded: measured 1 Dec 2026).
//
// Measured on the Zen 4 machine, one thread, 2048x2048 in rows of a 32-row tile (the prototype
// of this file, GCC 12 -O3, 1 Dec 2026): against the plain loop of unaligned loads, 1.63x at
// sigma 1, 1.46x at sigma 3 and 1.38x at sigma 9 for four vectors a group and both sides by
// valignd (this file); two vectors a group, or the left side by loads, were as fast or faster
// with clang but 0.9x to 1.5x with GCC, which spilled registers: GCC builds this file in CI.
#include "horizontal_pass_avx512.h"

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <utility>

namespace {

// Four vectors of 16 floats a group: four independent FMA chains cover the FMA's latency.
constexpr int kGroup = 4;
constexpr int kLanes = 16;
constexpr int kBlock = 8;  // taps a block; a shorter block ends the radius (tail below)

// f(0), ..., f(N - 1), each index a compile-time constant: GCC keeps the vector arrays below in
// registers only when every index into them is a constant before its scalar replacement of
// aggregates runs (with plain loops it stored and reloaded them: 220 stack accesses, 1.2x slower).
template <typename F, int... I>
[[gnu::always_inline]] inline void unrolled(F &&f, std::integer_sequence<int, I...>) {
    (f(std::integral_constant<int, I>{}), ...);
}
template <int N, typename F>
[[gnu::always_inline]] inline void unrolled(F &&f) {
    unrolled(f, std::make_integer_sequence<int, N>{});
}

// Lanes J..15 of lo followed by lanes 0..J-1 of hi: the row shifted by J floats.
template <int J>
[[gnu::always_inline]] inline __m512 shifted(__m512 lo, __m512 hi) {
    if constexpr (J == 0) {
        return lo;
    } else {
        return _mm512_castsi512_ps(
            _mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), J));
    }
}

// Taps t0 .. t0 + NT - 1 of a group of outputs at p, from NT's block of vectors: right[k] holds
// v at p + t0 + 16k, left[k] v at p - t0 - (NT - 1) + 16k; w points at tap t0.
template <int NT>
[[gnu::always_inline]] inline void block(__m512 (&acc)[kGroup], const float *p, int t0, const float *w) {
    __m512 right[kGroup + 1], left[kGroup + 1];
    unrolled<kGroup>([&](auto k) __attribute__((always_inline)) {
        right[k] = _mm512_loadu_ps(p + t0 + kLanes * k);
        left[k] = _mm512_loadu_ps(p - t0 - (NT - 1) + kLanes * k);
    });
    // The last vector of each side supplies only its first NT - 1 lanes, which may be the last
    // floats of the row: masked loads read no further (and fault on nothing past them).
    const __mmask16 first = (__mmask16)((1u << (NT - 1)) - 1u);
    right[kGroup] = _mm512_maskz_loadu_ps(first, p + t0 + kLanes * kGroup);
    left[kGroup] = _mm512_maskz_loadu_ps(first, p - t0 - (NT - 1) + kLanes * kGroup);
    unrolled<NT>([&](auto s) __attribute__((always_inline)) {
        const __m512 wt = _mm512_set1_ps(w[t0 + s]);
        unrolled<kGroup>([&](auto i) __attribute__((always_inline)) {
            const __m512 sum = _mm512_add_ps(shifted<NT - 1 - s>(left[i], left[i + 1]),
                                             shifted<s>(right[i], right[i + 1]));
            acc[i] = _mm512_fmadd_ps(wt, sum, acc[i]);
        });
    });
}

// The last block, of n < kBlock taps.
template <int NT = 1>
[[gnu::always_inline]] inline void tail_block(__m512 (&acc)[kGroup], const float *p, int t0, const float *w, int n) {
    if constexpr (NT < kBlock) {
        if (n == NT) return block<NT>(acc, p, t0, w);
        tail_block<NT + 1>(acc, p, t0, w, n);
    }
}

// One group of 64 outputs at x.
[[gnu::always_inline]] inline void group(const float *v, float *out, int x, int radius, const float *w) {
    const float *p = v + x;
    __m512 acc[kGroup];
    const __m512 w0 = _mm512_set1_ps(w[0]);
    unrolled<kGroup>([&](auto i) __attribute__((always_inline)) { acc[i] = _mm512_mul_ps(w0, _mm512_loadu_ps(p + kLanes * i)); });
    int t = 1;
    for (; t + kBlock - 1 <= radius; t += kBlock) block<kBlock>(acc, p, t, w);
    tail_block(acc, p, t, w, radius + 1 - t);
    unrolled<kGroup>([&](auto i) __attribute__((always_inline)) { _mm512_storeu_ps(out + x + kLanes * i, acc[i]); });
}

// One row: out[0, n) from v, which holds the row over [-radius, n + radius).
void row(const float *v, float *out, int n, int radius, const float *w) {
    constexpr int width = kGroup * kLanes;
    int x = 0;
    for (; x + width <= n; x += width) group(v, out, x, radius, w);
    if (x < n && n >= width) {
        // The last group shifted inwards to end at the row's end: a few outputs twice.
        group(v, out, n - width, radius, w);
        return;
    }
    // A row narrower than a group, with the same sums in the same order.
    for (; x < n; x++) {
        float a = w[0] * v[x];
        for (int t = 1; t <= radius; t++) a = std::fma(w[t], v[x - t] + v[x + t], a);
        out[x] = a;
    }
}

}  // namespace

extern "C" int blurmix_horizontal_pass_avx512(halide_buffer_t *vertical, halide_buffer_t *taps,
                                              int radius, halide_buffer_t *out) {
    // Bounds query: the rows of the vertical pass over the output's columns and radius more on
    // each side, and taps 0..radius.
    if (vertical->is_bounds_query() || taps->is_bounds_query()) {
        if (vertical->is_bounds_query()) {
            for (int d = 0; d < 3; d++) vertical->dim[d] = out->dim[d];
            vertical->dim[0].min = out->dim[0].min - radius;
            vertical->dim[0].extent = out->dim[0].extent + 2 * radius;
        }
        if (taps->is_bounds_query()) {
            taps->dim[0].min = 0;
            taps->dim[0].extent = radius + 1;
        }
        return 0;
    }
    // Halide stores a Func's innermost dimension densely; the loop below relies on it.
    if (vertical->dim[0].stride != 1 || out->dim[0].stride != 1 || taps->dim[0].stride != 1) return -1;
    const float *w = reinterpret_cast<const float *>(taps->host) - taps->dim[0].min;
    const halide_dimension_t *vd = vertical->dim, *od = out->dim;
    for (int c = od[2].min; c < od[2].min + od[2].extent; c++) {
        for (int y = od[1].min; y < od[1].min + od[1].extent; y++) {
            const float *v = reinterpret_cast<const float *>(vertical->host) +
                             (int64_t)(y - vd[1].min) * vd[1].stride + (int64_t)(c - vd[2].min) * vd[2].stride +
                             (od[0].min - vd[0].min);
            float *o = reinterpret_cast<float *>(out->host) + (int64_t)(y - od[1].min) * od[1].stride +
                       (int64_t)(c - od[2].min) * od[2].stride;
            row(v, o, od[0].extent, radius, w);
        }
    }
    return 0;
}
