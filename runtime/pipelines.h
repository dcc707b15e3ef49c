// How the core library finds a generated pipeline and calls it: the registry of every library
// built (by pipeline, device and schedule), the refusal of what was not built or cannot run here,
// a failed call turned into Error with Halide's message, and buffers handed to and taken back
// from a pipeline that may run on a GPU. Internal to the core library.
#pragma once

#include <string>

#include "HalideRuntime.h"
#include "image.h"
#include "variant.h"

namespace blurmix {

// The generated function of pipeline for v, or Error naming why not: not built (and how to
// build it), skipped at build time (and why), or its device not available here. Installs the
// Halide hooks first (halide_hooks.h).
void *find_pipeline(const std::string &pipeline, const Variant &v);

// Typed: signature is any variant's function (the manual CPU one, always built), for its type.
template <typename Fn>
Fn lookup(const std::string &pipeline, const Variant &v, Fn signature) {
    (void)signature;
    return reinterpret_cast<Fn>(find_pipeline(pipeline, v));
}

// rc != 0: throws "what failed: <Halide's message>".
void check(int rc, const std::string &what);
// The same for a call of variant v: an autoscheduled variant refused the image's size (its
// tiles, chosen for the build's size estimates, reach past a small image's edges) is said so in
// the user's terms, with the way out.
void check(int rc, const std::string &what, const Variant &v);

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
    if (b->device_dirty()) check(halide_copy_to_host(nullptr, b), "copy to host");
}

}  // namespace blurmix
