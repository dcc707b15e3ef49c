// The process-wide Halide handlers that the core library installs: where Halide's errors go
// (kept, so that a failed pipeline throws blurmix::Error with Halide's message rather than
// printing it) and how memory is allocated (Halide's per-tile scratch blocks reused per thread;
// images of 8 MiB and more in transparent huge pages, kept when freed for the next image of the
// same size). Both were measured: page faults and the kernel's zeroing of fresh pages were a
// quarter to a third of some stages' time.
//
// install_halide_hooks() installs them; the library calls it before it runs its first pipeline
// (so a program that only links blurmix needs do nothing). It replaces handlers that the program
// set with halide_set_error_handler, halide_set_custom_malloc/free or Buffer's default
// allocator: a program with Halide pipelines of its own that needs its own handlers should set
// them after its first call into blurmix, and then blurmix's errors read "error code N".
#pragma once

#include <string>

namespace blurmix {

// Idempotent and thread-safe.
void install_halide_hooks();

// The message Halide reported for a failed call (rc its return code), cleared once taken.
std::string take_halide_error(int rc);

// Images of 8 MiB and more are kept when freed (up to 512 MiB in all) for the next image of the
// same size; this gives them back to the system, for a long-lived program between batches.
void release_kept_images();

}  // namespace blurmix
