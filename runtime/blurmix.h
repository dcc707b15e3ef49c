// blurmix's core library, all of it: include this, link blurmix::blurmix.
//   image.h       Image, Map, Picture (8-bit), Error
//   image_io.h    PNG and .npy in and out, atomic writes, sRGB
//   variant.h     which generated library runs a stage (device, schedule), what was built
//   definitions.h Boundary, Penalty, the kernel's half-width rule (shared with the generators)
//   checks.h      the argument checks, written once
//   ops.h         blur, blur_with_derivative, mix, mix_gradient, adamax_step
//   fit.h         fit: the min/max mix's weights (and sigmas) by Adamax
//   scales.h      the exact local blur, the K-scale stack, fit_scales
//   halide_hooks.h the Halide error and memory handlers the library installs
// Every failure throws blurmix::Error with a readable message; nothing here aborts.
#pragma once

#include "checks.h"
#include "definitions.h"
#include "fit.h"
#include "halide_hooks.h"
#include "image.h"
#include "image_io.h"
#include "ops.h"
#include "scales.h"
#include "variant.h"
