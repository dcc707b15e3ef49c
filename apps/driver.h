// The blurmix driver's entry point (main in blurmix.cpp; the command-line fuzzer in tests/fuzz).
#pragma once

namespace blurmix {

// The whole command line: parses argv and runs the subcommand; returns the exit status. With
// parse_only it stops after parsing and checking the options (for the fuzzer).
int run_command_line(int argc, const char *const *argv, bool parse_only = false);

}  // namespace blurmix
