// Pieces of the blurmix driver shared by its subcommands.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "blurmix.h"

namespace blurmix {

// Refuses, before any work is done, an output whose format or directory will not do.
void check_output_path(const std::string &path);
// Refuses an existing file at path unless force: outputs never replace a user's file silently.
void check_new_output(const std::string &path, bool force);
// Creates dir if needed and checks that a file can be written in it.
void prepare_output_dir(const std::string &dir);

// How inputs are read: size limits, and the colour rule. Samples are taken as stored unless
// linear: then PNG inputs are decoded from sRGB to linear light (alpha as is) and PNG outputs
// encoded back; .npy data is taken to be linear already and written as computed.
struct InputOptions {
    ReadLimits limits;
    bool linear = false;
};
// load_image with the limits and the colour rule, refusing NaN and Inf.
Image load_input(const std::string &path, const InputOptions &in);
void save_output(const std::string &path, const Image &img, const InputOptions &in);

// SIGINT and SIGTERM set a flag that long work polls (FitOptions::should_stop); a second one
// ends the process at once.
void install_interrupt_handlers();
int interrupt_signal();  // the signal received, or 0
struct Interrupted : std::runtime_error {
    int signal;
    explicit Interrupted(int sig);
};
void throw_if_interrupted();

// The whole command line: parses argv and runs the subcommand; returns the exit status. With
// parse_only it stops after parsing and checking the options (for the fuzzer).
int run_command_line(int argc, const char *const *argv, bool parse_only = false);

void print_progress(const FitProgress &p, const char *prefix = "");
nlohmann::json fit_json(const FitResult &r, const FitOptions &opt);

struct DemoArgs {
    std::string out = "demo-out";
    int iters = 1000;
    bool json = false, force = false;
    Variant variant;
};
int run_demo(const DemoArgs &args);

}  // namespace blurmix
