// blurmix mix IN OUT --sigma-min A --sigma-max B (--weight W | --weights MAP): the mix of a small
// and a large blur, w blur(A) + (1 - w) blur(B).
#include <optional>

#include "image_command.h"

namespace blurmix {

namespace {

class MixCommand : public ImageCommand {
public:
    explicit MixCommand(CLI::App &cli)
        : ImageCommand(cli, "mix", "mix of a small and a large blur: w blur(s_min) + (1 - w) blur(s_max)") {
        app->add_option("--sigma-min", s_min_)->required();
        app->add_option("--sigma-max", s_max_)->required();
        auto weight = app->add_option("--weight", weight_, "one weight in [0, 1] for every pixel");
        app->add_option("--weights", weights_path_, "weight map (rows x columns, .npy or grey PNG)")->excludes(weight);
        add_shared_options();
    }

private:
    void resolve_own() override {
        if (!weight_ && weights_path_.empty()) throw Error("mix needs --weight W or --weights MAP");
        check_sigma(s_min_, "sigma-min");
        check_sigma(s_max_, "sigma-max");
    }

    Image compute(const Image &in) override {
        Map weights;
        if (weight_) {
            weights = Map(1, 1);
            weights(0, 0) = *weight_;
        } else {
            weights = load_input_map(weights_path_, inputs());
        }
        Image a = blur(in, s_min_, blur_options()), b = blur(in, s_max_, blur_options());
        return mix(a, b, logits_of(weights), blur_options().variant);
    }

    std::string weights_path_;
    float s_min_ = 0, s_max_ = 0;
    std::optional<float> weight_;
};

}  // namespace

std::unique_ptr<Command> add_mix_command(CLI::App &cli) {
    return std::make_unique<MixCommand>(cli);
}

}  // namespace blurmix
