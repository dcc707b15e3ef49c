// One subcommand of the blurmix driver: its options, declared on its own CLI11 subcommand (the
// shared groups from options.h), then checked and run. Each lives in the file of its name.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace blurmix {

class Command {
public:
    explicit Command(CLI::App *app) : app(app) {}
    virtual ~Command() = default;
    Command(const Command &) = delete;  // CLI11 holds pointers into it
    Command &operator=(const Command &) = delete;
    // Turns the parsed options into the library's and checks what can be checked without reading
    // a file (a fuzzed command line gets this far); throws Error.
    virtual void resolve() = 0;
    // Exit status 0, or 128 + a signal; throws Error (exit status 1) or Interrupted.
    virtual int run() = 0;

    CLI::App *const app;  // true when this subcommand was given
};

// Each adds its subcommand to the command line, with options bound to the returned object.
std::unique_ptr<Command> add_blur_command(CLI::App &cli);
std::unique_ptr<Command> add_mix_command(CLI::App &cli);
std::unique_ptr<Command> add_fit_command(CLI::App &cli);
std::unique_ptr<Command> add_eval_command(CLI::App &cli);
std::unique_ptr<Command> add_demo_command(CLI::App &cli);

}  // namespace blurmix
