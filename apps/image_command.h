// The subcommands that read one image and write one, blur and mix: IN and OUT, the blur options,
// the input options and --force, and the run that reads IN through the input options, refuses an
// unsuitable or existing OUT before the work, and writes OUT by the same colour rule. With
// --timings it prints the seconds of each phase (read, compute, write) on stderr: the
// whole-command benchmark (apps/bench/bench_commands.py) sets the command against its kernel.
#pragma once

#include <string>

#include "command.h"
#include "options.h"

namespace blurmix {

class ImageCommand : public Command {
public:
    void resolve() final;
    int run() final;

protected:
    // Adds the subcommand with IN and OUT; the subclass then adds its own options, and then
    // add_shared_options(), so that they come in that order in --help.
    ImageCommand(CLI::App &cli, const char *name, const char *description);
    void add_shared_options();
    // The subclass's checks of its own options (no files read).
    virtual void resolve_own() = 0;
    // OUT from IN; reads any other input (a map) through inputs().
    virtual Image compute(const Image &in) = 0;

    const BlurOptions &blur_options() const { return blur_opt_; }
    const InputOptions &inputs() const { return in_; }

private:
    std::string in_path_, out_path_;
    bool force_ = false, timings_ = false;
    BlurOptions blur_opt_;
    BlurOptionGroup blur_group_;
    InputOptionGroup input_group_;
    InputOptions in_;
};

}  // namespace blurmix
