// blurmix blur IN OUT (--sigma S | --sigma-map MAP [--scales K]): the Gaussian blur, the exact
// local blur by a sigma per pixel, or the local blur's K-scale approximation.
#include "image_command.h"

namespace blurmix {

namespace {

class BlurCommand : public ImageCommand {
public:
    explicit BlurCommand(CLI::App &cli) : ImageCommand(cli, "blur", "Gaussian blur of an image (PNG or .npy)") {
        sigma_opt_ = app->add_option("--sigma", sigma_, "standard deviation in pixels");
        app->add_option("--sigma-map", map_path_, "a sigma per pixel (rows x columns): the exact local blur")
            ->excludes(sigma_opt_);
        scales_opt_ = app->add_option("--scales", scales_, "K >= 2: with --sigma-map, a stack of K blurs spanning "
                                                           "the map, each pixel mixing its two neighbouring scales");
        stack_.add(app, false);
        add_shared_options();
    }

private:
    void resolve_own() override {
        spacing_ = stack_.resolve(0).spacing;
        if (map_path_.empty() && scales_opt_->count() > 0) throw Error("--scales needs --sigma-map");
        if (map_path_.empty() && sigma_opt_->count() == 0) throw Error("blur needs --sigma S or --sigma-map MAP");
        if (map_path_.empty()) check_sigma(sigma_, "sigma");
    }

    Image compute(const Image &in) override {
        if (map_path_.empty()) return blur(in, sigma_, blur_options());
        Map sigma_map = load_input_map(map_path_, inputs());
        check_sigma_map(sigma_map, in.width(), in.height(), map_path_);
        if (scales_opt_->count() == 0) return local_blur(in, sigma_map, blur_options());
        return scale_blur(in, sigma_map, scales_, spacing_, blur_options());
    }

    std::string map_path_;
    float sigma_ = 0;
    int scales_ = 0;
    CLI::Option *sigma_opt_ = nullptr, *scales_opt_ = nullptr;
    StackOptionGroup stack_;
    Spacing spacing_ = Spacing::geometric;
};

}  // namespace

std::unique_ptr<Command> add_blur_command(CLI::App &cli) {
    return std::make_unique<BlurCommand>(cli);
}

}  // namespace blurmix
