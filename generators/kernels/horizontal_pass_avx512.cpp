// The blur's horizontal pass written by hand for AVX-512, and the same pass paired with its sigma
// derivative, called by the generated pipelines as extern stages (taps_and_blur.h's
// use_horizontal_pass_kernel) where the target has AVX-512 and the schedule is the manual one.
// The single pass computes what taps_and_blur.h's pass() computes along x,
//   out(x) = w(0) v(x) + sum_{t=1..R} w(t) (v(x - t) + v(x + t)),
// summing the taps in the same order: its output is bit for bit Halide's (bench_blur_lanes checks).
//
// Why by hand: the pass needs, for every tap, the row shifted by one more float. Halide (and a
// plain loop) loads each shifted vector from memory: a misaligned 64-byte load that straddles two
// cache lines, two of them per tap pair and vector, which bound the pass by its loads (about
// 3.7 cycles per tap pair and 16 outputs on the Zen 4 machine, against 1 for its FMA). Here taps
// come in blocks of 8: a block loads G + 1 vectors on each side once and builds the 8 shifted
// vectors of each side from neighbouring pairs with valignd, which needs no load. Nothing in
// Halide's scheduling asks for that on x86 (a row segment held in MemoryType::Register was still
// stored and reloaded: measured 1 Dec 2026).
//
// Measured on the Zen 4 machine, one thread, 2048x2048 in rows of a 32-row tile (the prototype
// of this file, GCC 12 -O3, 1 Dec 2026): against the plain loop of unaligned loads, 1.63x at
// sigma 1, 1.46x at sigma 3 and 1.38x at sigma 9 for four vectors a group and both sides by
// valignd (the single pass here); two vectors a group, or the left side by loads, were as fast or
// faster with clang but 0.9x to 1.5x with GCC, which spilled registers: GCC builds this file in
// CI. The paired pass measured otherwise (pair_row says how). In the pipelines: docs/performance.md.
#include "horizontal_pass_avx512.h"

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <utility>

namespace {

constexpr int kLanes = 16;
constexpr int kBlock = 8;  // taps a block; a shorter block ends the radius

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
#define BLURMIX_INLINE __attribute__((always_inline))

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

// The vectors a block of NT taps from t0 needs, for a group of G vectors of outputs at p: right[k]
// holds the row at p + t0 + 16k, left[k] at p - t0 - (NT - 1) + 16k. Tap t0 + s of output vector
// i is then shifted<NT - 1 - s>(left[i], left[i + 1]) + shifted<s>(right[i], right[i + 1]); with
// LeftByLoads the left term is a (misaligned) load instead, which runs on the load ports beside
// the shuffles: where the FP pipes are busier (the paired pass), that balances them.
template <int G, int NT, bool LeftByLoads = false>
struct BlockRows {
    __m512 right[G + 1], left[G + 1];
    const float *left_base;
    [[gnu::always_inline]] BlockRows(const float *p, int t0) : left_base(p - t0 - (NT - 1)) {
        unrolled<G>([&](auto k) BLURMIX_INLINE {
            right[k] = _mm512_loadu_ps(p + t0 + kLanes * k);
            if constexpr (!LeftByLoads) left[k] = _mm512_loadu_ps(left_base + kLanes * k);
        });
        // The last vector of each side supplies only its first NT - 1 lanes, which may be the
        // last floats of the row: masked loads read no further (and fault on nothing past them).
        const __mmask16 first = (__mmask16)((1u << (NT - 1)) - 1u);
        right[G] = _mm512_maskz_loadu_ps(first, p + t0 + kLanes * G);
        if constexpr (!LeftByLoads) left[G] = _mm512_maskz_loadu_ps(first, left_base + kLanes * G);
    }
    template <int S, int I>
    [[gnu::always_inline]] __m512 pair_sum() const {
        __m512 l;
        if constexpr (LeftByLoads) {
            l = _mm512_loadu_ps(left_base + kLanes * I + (NT - 1 - S));
        } else {
            l = shifted<NT - 1 - S>(left[I], left[I + 1]);
        }
        return _mm512_add_ps(l, shifted<S>(right[I], right[I + 1]));
    }
};

// Taps 1..radius of a group, a block of kBlock taps at a time, then one of the n < kBlock left:
// block(integral_constant<NT>, t0) for each.
template <typename Block>
[[gnu::always_inline]] inline void tap_blocks(int radius, Block &&block) {
    int t = 1;
    for (; t + kBlock - 1 <= radius; t += kBlock) block(std::integral_constant<int, kBlock>{}, t);
    const int n = radius + 1 - t;
    unrolled<kBlock>([&](auto nt) BLURMIX_INLINE {
        if constexpr (nt > 0) {
            if (n == nt) block(nt, t);
        }
    });
}

// The groups of a row of n outputs, each width wide, at x = 0, width, ...; the last shifted
// inwards to end at the row's end (a few outputs computed twice, to the same values). false
// where the row is narrower than a group.
template <int width, typename Group>
[[gnu::always_inline]] inline bool groups(int n, Group &&group) {
    if (n < width) return false;
    int x = 0;
    for (; x + width <= n; x += width) group(x);
    if (x < n) group(n - width);
    return true;
}

// The blur's pass: out(x) = w(0) v(x) + sum_t w(t) (v(x - t) + v(x + t)). Four vectors a group:
// four independent FMA chains cover the FMA's latency.
void row(const float *v, float *out, int n, int radius, const float *w) {
    constexpr int G = 4;
    const bool done = groups<G * kLanes>(n, [&](int x) BLURMIX_INLINE {
        const float *p = v + x;
        __m512 acc[G];
        const __m512 w0 = _mm512_set1_ps(w[0]);
        unrolled<G>([&](auto i) BLURMIX_INLINE { acc[i] = _mm512_mul_ps(w0, _mm512_loadu_ps(p + kLanes * i)); });
        tap_blocks(radius, [&](auto nt, int t0) BLURMIX_INLINE {
            const BlockRows<G, nt> rows(p, t0);
            unrolled<nt>([&](auto s) BLURMIX_INLINE {
                const __m512 wt = _mm512_set1_ps(w[t0 + s]);
                unrolled<G>([&](auto i) BLURMIX_INLINE {
                    acc[i] = _mm512_fmadd_ps(wt, rows.template pair_sum<s, i>(), acc[i]);
                });
            });
        });
        unrolled<G>([&](auto i) BLURMIX_INLINE { _mm512_storeu_ps(out + x + kLanes * i, acc[i]); });
    });
    if (done) return;
    // A row narrower than a group, with the same sums in the same order.
    for (int x = 0; x < n; x++) {
        float a = w[0] * v[x];
        for (int t = 1; t <= radius; t++) a = std::fma(w[t], v[x - t] + v[x + t], a);
        out[x] = a;
    }
}

// The pass paired with its sigma derivative (taps_and_blur.h's paired form): out as above over
// f; d_out(x) = w(0) df(x) + dw(0) f(x) + sum_t (w(t) (df(x - t) + df(x + t)) + dw(t) (f(x - t)
// + f(x + t))), each tap's two terms added to the sum one after the other (Halide's pass adds
// their sum: the same to float rounding). Four vectors a group, the left side by loads, two FMAs
// a tap: measured on its own (512-wide rows of a 16-row strip, radius 19, 1 Dec 2026) 4.9 cycles
// a tap and 16 outputs, against 7.0 with both sides by valignd and Halide's add of a product
// (both sides 6.1; two vectors a group 5.5; Halide's pass took about as long as the 7.0).
void pair_row(const float *f, const float *df, float *out, float *d_out, int n, int radius,
              const float *w, const float *dw) {
    constexpr int G = 4;
    const bool done = groups<G * kLanes>(n, [&](int x) BLURMIX_INLINE {
        const float *pf = f + x, *pd = df + x;
        __m512 acc[G], d_acc[G];
        const __m512 w0 = _mm512_set1_ps(w[0]), dw0 = _mm512_set1_ps(dw[0]);
        unrolled<G>([&](auto i) BLURMIX_INLINE {
            const __m512 fi = _mm512_loadu_ps(pf + kLanes * i);
            acc[i] = _mm512_mul_ps(w0, fi);
            d_acc[i] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(pd + kLanes * i), _mm512_mul_ps(dw0, fi));
        });
        tap_blocks(radius, [&](auto nt, int t0) BLURMIX_INLINE {
            const BlockRows<G, nt, true> rows_f(pf, t0), rows_d(pd, t0);
            unrolled<nt>([&](auto s) BLURMIX_INLINE {
                const __m512 wt = _mm512_set1_ps(w[t0 + s]), dwt = _mm512_set1_ps(dw[t0 + s]);
                unrolled<G>([&](auto i) BLURMIX_INLINE {
                    const __m512 sf = rows_f.template pair_sum<s, i>(), sd = rows_d.template pair_sum<s, i>();
                    acc[i] = _mm512_fmadd_ps(wt, sf, acc[i]);
                    d_acc[i] = _mm512_fmadd_ps(dwt, sf, _mm512_fmadd_ps(wt, sd, d_acc[i]));
                });
            });
        });
        unrolled<G>([&](auto i) BLURMIX_INLINE {
            _mm512_storeu_ps(out + x + kLanes * i, acc[i]);
            _mm512_storeu_ps(d_out + x + kLanes * i, d_acc[i]);
        });
    });
    if (done) return;
    for (int x = 0; x < n; x++) {
        float a = w[0] * f[x], d = std::fma(w[0], df[x], dw[0] * f[x]);
        for (int t = 1; t <= radius; t++) {
            const float sf = f[x - t] + f[x + t], sd = df[x - t] + df[x + t];
            a = std::fma(w[t], sf, a);
            d = std::fma(dw[t], sf, std::fma(w[t], sd, d));
        }
        out[x] = a;
        d_out[x] = d;
    }
}

const float *taps_of(const halide_buffer_t *taps) {
    return reinterpret_cast<const float *>(taps->host) - taps->dim[0].min;
}

// The row (y, c) of b from column x.
template <typename T>
T *row_of(const halide_buffer_t *b, int x, int y, int c) {
    const halide_dimension_t *d = b->dim;
    return reinterpret_cast<T *>(b->host) + (int64_t)(x - d[0].min) + (int64_t)(y - d[1].min) * d[1].stride +
           (int64_t)(c - d[2].min) * d[2].stride;
}

// Halide stores a Func's innermost dimension densely; the loops above rely on it.
bool dense(std::initializer_list<const halide_buffer_t *> buffers) {
    for (const halide_buffer_t *b : buffers) {
        if (b->dim[0].stride != 1) return false;
    }
    return true;
}

// Every row (y, c) of out's region, one call each.
template <typename Row>
void each_row(const halide_buffer_t *out, Row &&row) {
    const halide_dimension_t *od = out->dim;
    for (int c = od[2].min; c < od[2].min + od[2].extent; c++) {
        for (int y = od[1].min; y < od[1].min + od[1].extent; y++) row(od[0].min, y, c, od[0].extent);
    }
}

}  // namespace

// The generated pipelines give bounds inference the kernels' footprints
// (extern_definition_proxy_expr) and never call them in bounds-query mode; a query is refused.
extern "C" int blurmix_horizontal_pass_avx512(halide_buffer_t *vertical, halide_buffer_t *taps,
                                              int radius, halide_buffer_t *out) {
    if (vertical->is_bounds_query() || taps->is_bounds_query()) return -1;
    if (!dense({vertical, taps, out})) return -2;
    each_row(out, [&](int x, int y, int c, int n) {
        row(row_of<const float>(vertical, x, y, c), row_of<float>(out, x, y, c), n, radius, taps_of(taps));
    });
    return 0;
}

extern "C" int blurmix_horizontal_pass_pair_avx512(halide_buffer_t *vertical, halide_buffer_t *d_vertical,
                                                   halide_buffer_t *taps, halide_buffer_t *d_taps, int radius,
                                                   halide_buffer_t *out, halide_buffer_t *d_out) {
    if (vertical->is_bounds_query() || d_vertical->is_bounds_query() || taps->is_bounds_query() ||
        d_taps->is_bounds_query()) {
        return -1;
    }
    if (!dense({vertical, d_vertical, taps, d_taps, out, d_out})) return -2;
    each_row(out, [&](int x, int y, int c, int n) {
        pair_row(row_of<const float>(vertical, x, y, c), row_of<const float>(d_vertical, x, y, c),
                 row_of<float>(out, x, y, c), row_of<float>(d_out, x, y, c), n, radius, taps_of(taps),
                 taps_of(d_taps));
    });
    return 0;
}
