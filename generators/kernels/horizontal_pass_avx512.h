// The hand-written AVX-512 horizontal pass, an extern stage of the generated blur (see its .cpp).
// The generators name it by the string kHorizontalPassAvx512; the generated libraries link it.
#pragma once

#include "HalideRuntime.h"

// vertical: the vertical pass over [x - radius, x + radius] for the output's (x, y, c); taps:
// the normalized taps w(0..radius); out: the horizontal pass over its region. 0 on success.
extern "C" int blurmix_horizontal_pass_avx512(halide_buffer_t *vertical, halide_buffer_t *taps,
                                              int radius, halide_buffer_t *out);

namespace blurmix {
inline constexpr const char *kHorizontalPassAvx512 = "blurmix_horizontal_pass_avx512";
}
