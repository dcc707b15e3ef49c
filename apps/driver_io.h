// How every blurmix subcommand reads its inputs and writes its outputs: the size limits and the
// colour rule on the way in and out, and the checks that refuse an output before any work.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "blurmix.h"

namespace blurmix {

// How inputs are read: size limits, and the colour rule. Samples are taken as stored unless
// linear: then PNG inputs are decoded from sRGB to linear light (alpha as is) and PNG outputs
// encoded back; .npy data is taken to be linear already and written as computed.
struct InputOptions {
    ReadLimits limits;
    bool linear = false;
};
// load_image with the limits and the colour rule, refusing NaN and Inf.
Image load_input(const std::string &path, const InputOptions &in);
// A map (sigma or weights, one channel) with the limits. Maps are data: never colour-converted.
Map load_input_map(const std::string &path, const InputOptions &in);
// save_image with the colour rule.
void save_output(const std::string &path, const Image &img, const InputOptions &in);

// Refuses, before any work is done, an output whose format or directory will not do.
void check_output_path(const std::string &path);
// Refuses an existing file at path unless force: outputs never replace a user's file silently.
void check_new_output(const std::string &path, bool force);
// Creates dir if needed, checks that a file can be written in it, and check_new_output for each
// of the names the subcommand will write there.
void prepare_output_dir(const std::string &dir, const std::vector<std::string> &names, bool force);
// Runs independent reads or writes (each write an atomic file) at once on threads of their own
// and waits for all; the first failure in the list's order is rethrown once all have ended. A
// fit's outputs are four files, and the PNG encoding of one held up the writing of the others;
// its two inputs took twice as long read one after the other (each read is mostly the kernel
// copying into fresh pages, which a second core halves).
void run_concurrently(const std::vector<std::function<void()>> &tasks);

}  // namespace blurmix
