// Pieces of the blurmix driver shared by its subcommands.
#pragma once

#include <string>

#include "blurmix.h"
#include "driver_io.h"
#include "interrupt.h"

namespace blurmix {

// The whole command line: parses argv and runs the subcommand; returns the exit status. With
// parse_only it stops after parsing and checking the options (for the fuzzer).
int run_command_line(int argc, const char *const *argv, bool parse_only = false);

struct DemoArgs {
    std::string out = "demo-out";
    int iters = 1000;
    bool json = false, force = false;
    Variant variant;
};
int run_demo(const DemoArgs &args);

}  // namespace blurmix
