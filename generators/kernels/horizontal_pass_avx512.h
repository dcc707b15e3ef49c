// The hand-written AVX-512 horizontal passes, extern stages of the generated blurs (see the .cpp).
// The generators name them by the strings below; the generated libraries link them.
#pragma once

#include "HalideRuntime.h"

// vertical: the vertical pass over [x - radius, x + radius] for the output's (x, y, c); taps:
// the normalized taps w(0..radius); out: the horizontal pass over its region. 0 on success.
extern "C" int blurmix_horizontal_pass_avx512(halide_buffer_t *vertical, halide_buffer_t *taps,
                                              int radius, halide_buffer_t *out);

// The same paired with its sigma derivative: d_vertical and d_taps the vertical pass's and the
// taps' derivatives, d_out the horizontal pass's.
extern "C" int blurmix_horizontal_pass_pair_avx512(halide_buffer_t *vertical, halide_buffer_t *d_vertical,
                                                   halide_buffer_t *taps, halide_buffer_t *d_taps, int radius,
                                                   halide_buffer_t *out, halide_buffer_t *d_out);

namespace blurmix {
inline constexpr const char *kHorizontalPassAvx512 = "blurmix_horizontal_pass_avx512";
inline constexpr const char *kHorizontalPassPairAvx512 = "blurmix_horizontal_pass_pair_avx512";
}
