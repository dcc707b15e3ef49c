// How the runtime layer hands buffers to a generated pipeline and takes its results back, for
// blurmix.cpp and scales.cpp. Internal to the runtime layer.
#pragma once

#include "HalideRuntime.h"
#include "blurmix.h"

namespace blurmix {

// Inputs are const to callers; a GPU pipeline may still attach a device copy to them. The host
// copy is the one callers write (without marking it dirty), so unless the device holds the
// newest data a GPU pipeline copies the host's over on every call.
template <typename B>
halide_buffer_t *in(const B &b) {
    halide_buffer_t *raw = const_cast<B &>(b).raw_buffer();
    if (!raw->device_dirty()) raw->set_host_dirty(true);
    return raw;
}

// Results of a GPU pipeline stay on the device until asked for.
inline void to_host(halide_buffer_t *b) {
    if (b->device_dirty()) check_pipeline(halide_copy_to_host(nullptr, b), "copy to host");
}

}  // namespace blurmix
