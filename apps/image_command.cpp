#include "image_command.h"

#include <chrono>
#include <cstdio>

#include "interrupt.h"

namespace blurmix {

ImageCommand::ImageCommand(CLI::App &cli, const char *name, const char *description)
    : Command(cli.add_subcommand(name, description)) {
    app->add_option("IN", in_path_, "input image")->required();
    app->add_option("OUT", out_path_, "output image (.png or .npy)")->required();
}

void ImageCommand::add_shared_options() {
    blur_group_.add(app, blur_opt_);
    input_group_.add(app);
    add_force_option(app, force_);
    app->add_flag("--timings", timings_, "print the seconds of each phase (read, compute, write) on stderr");
}

void ImageCommand::resolve() {
    blur_group_.resolve();
    in_ = input_group_.resolve();
    resolve_own();
}

int ImageCommand::run() {
    using clock = std::chrono::steady_clock;
    auto seconds = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    const clock::time_point t0 = clock::now();
    Image in = load_input(in_path_, in_);
    check_output_path(out_path_);
    check_new_output(out_path_, force_);
    const clock::time_point t1 = clock::now();
    Image out = compute(in);
    in = Image();  // not needed for the writing: its memory goes back before the encoder takes more
    throw_if_interrupted();
    const clock::time_point t2 = clock::now();
    save_output(out_path_, out, in_);
    const clock::time_point t3 = clock::now();
    if (timings_) {
        std::fprintf(stderr, "timings: read %.4f s, compute %.4f s, write %.4f s\n", seconds(t0, t1), seconds(t1, t2),
                     seconds(t2, t3));
    }
    return 0;
}

}  // namespace blurmix
