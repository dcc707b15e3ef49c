#include "image_command.h"

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
}

void ImageCommand::resolve() {
    blur_group_.resolve();
    in_ = input_group_.resolve();
    resolve_own();
}

int ImageCommand::run() {
    Image in = load_input(in_path_, in_);
    check_output_path(out_path_);
    check_new_output(out_path_, force_);
    Image out = compute(in);
    throw_if_interrupted();
    save_output(out_path_, out, in_);
    return 0;
}

}  // namespace blurmix
