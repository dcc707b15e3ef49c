#include "options.h"

#include <algorithm>
#include <sstream>

#include "evaluate.h"

namespace blurmix {

void add_variant_options(CLI::App *cmd, Variant &v) {
    cmd->add_option("--device", v.device, "cpu, opencl or cuda (as built)")->capture_default_str();
    cmd->add_option("--schedule", v.schedule,
                    "manual, naive, mullapudi2016, adams2019, li2018, anderson2021 (as built)")
        ->capture_default_str();
}

void BlurOptionGroup::add(CLI::App *cmd, BlurOptions &opt) {
    opt_ = &opt;
    cmd->add_option("--std-devs", opt.std_devs, "kernel half-width in sigmas")->capture_default_str();
    cmd->add_option("--boundary", boundary_, "zero, clamp or mirror")->capture_default_str();
    add_variant_options(cmd, opt.variant);
}

void BlurOptionGroup::resolve() const {
    opt_->boundary = parse_boundary(boundary_);
}

void InputOptionGroup::add(CLI::App *cmd) {
    cmd->add_option("--max-pixels", max_pixels_, "refuse input images with more pixels (width x height)")
        ->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--max-megabytes", max_megabytes_, "refuse input images larger than this as float32, in MiB")
        ->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_flag("--linear", linear_, "decode PNG inputs from sRGB to linear light, encode PNG outputs back");
}

InputOptions InputOptionGroup::resolve() const {
    if (max_megabytes_ > (UINT64_MAX >> 20)) throw Error("--max-megabytes is too large");
    InputOptions in;
    in.linear = linear_;
    in.limits.max_pixels = max_pixels_;
    // A long thin image is fine as long as its pixel count is within the limit.
    in.limits.max_width = in.limits.max_height = std::min<uint64_t>(max_pixels_, INT32_MAX);
    in.limits.max_bytes = max_megabytes_ << 20;
    return in;
}

void add_force_option(CLI::App *cmd, bool &force) {
    cmd->add_flag("--force", force, "replace existing output files");
}

void StackOptionGroup::add(CLI::App *cmd, bool with_smoothness) {
    cmd->add_option("--spacing", spacing_, "even or geometric spacing of the stack's sigmas")->capture_default_str();
    if (!with_smoothness) return;
    const ScaleOptions schedule = smoothed_scale_options(2);  // the default schedule (iters: any)
    std::ostringstream weight;
    weight << schedule.smooth.weight;
    cmd->add_option("--smooth", smooth_, "weight of a smoothness penalty on the fitted scale map (0: none)")
        ->default_str(weight.str());
    cmd->add_option("--smooth-kind", smooth_kind_, "tv (total variation) or quadratic")
        ->default_str(penalty_name(schedule.smooth.kind));
    cmd->add_option("--smooth-iters", smooth_iters_,
                    "the penalty holds for this many first iterations, then the fit goes on without it "
                    "(default: half of --iters)");
}

bool StackOptionGroup::smoothing_asked() const {
    return smooth_ && *smooth_ != 0.f;
}

bool StackOptionGroup::schedule_given() const {
    return smooth_kind_ || smooth_iters_;
}

ScaleOptions StackOptionGroup::resolve(int iters) const {
    ScaleOptions so = smoothed_scale_options(iters);
    so.spacing = parse_spacing(spacing_);
    if (smooth_) so.smooth.weight = *smooth_;
    if (smooth_kind_) so.smooth.kind = parse_penalty(*smooth_kind_);
    if (so.smooth.weight == 0.f) so.smooth.kind = Penalty::none;
    if (smooth_iters_) so.smooth_iters = *smooth_iters_;
    return so;
}

void add_stack_json(nlohmann::json &j, const ScaleOptions &so, int iters) {
    j["spacing"] = spacing_name(so.spacing);
    j["smooth"] = so.smooth.weight;
    j["smooth_kind"] = penalty_name(so.smooth.kind);
    j["smooth_iters"] = so.smooth_iters < 0 ? iters : std::min(so.smooth_iters, iters);
}

}  // namespace blurmix
