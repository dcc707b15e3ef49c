// The option groups that blurmix's subcommands share, each declared once here: a subcommand adds
// the groups it takes, and its inputs and outputs go through driver_io.h with what they resolve
// to, so that every flag it accepts takes effect.
// A group is added to one subcommand and holds what CLI11 writes into: it is neither copied nor moved.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "driver_io.h"
#include "scales.h"

namespace blurmix {

// --device, --schedule: which compiled pipelines run.
void add_variant_options(CLI::App *cmd, Variant &v);

// --std-devs, --boundary and the variant: how the subcommand's blurs are computed, into opt.
class BlurOptionGroup {
public:
    BlurOptionGroup() = default;
    BlurOptionGroup(const BlurOptionGroup &) = delete;
    BlurOptionGroup &operator=(const BlurOptionGroup &) = delete;
    void add(CLI::App *cmd, BlurOptions &opt);
    // Sets opt's boundary from its name; throws Error for an unknown one.
    void resolve() const;

private:
    BlurOptions *opt_ = nullptr;
    std::string boundary_ = "zero";
};

// --max-pixels, --max-megabytes, --linear: how the subcommand reads its inputs and encodes its
// image outputs (InputOptions).
class InputOptionGroup {
public:
    InputOptionGroup() = default;
    InputOptionGroup(const InputOptionGroup &) = delete;
    InputOptionGroup &operator=(const InputOptionGroup &) = delete;
    void add(CLI::App *cmd);
    // Throws Error for a limit out of range.
    InputOptions resolve() const;

private:
    uint64_t max_pixels_ = 1ull << 28, max_megabytes_ = 2048;
    bool linear_ = false;
};

// --force: replace existing output files (check_new_output).
void add_force_option(CLI::App *cmd, bool &force);

// The K-scale stack's --spacing and, for a fit (with_smoothness), its smoothness schedule:
// --smooth, --smooth-kind, --smooth-iters. The parts not given come from the schedule that eval
// and the demo's experiment D use (smoothed_scale_options: total variation, weight 1e-3, for the
// first half of the iterations); --smooth 0 turns the penalty off.
class StackOptionGroup {
public:
    StackOptionGroup() = default;
    StackOptionGroup(const StackOptionGroup &) = delete;
    StackOptionGroup &operator=(const StackOptionGroup &) = delete;
    void add(CLI::App *cmd, bool with_smoothness);
    // --smooth with a weight other than 0: fit then fits a stack even without --scales (K = 2).
    bool smoothing_asked() const;
    // --smooth-kind or --smooth-iters given.
    bool schedule_given() const;
    // The stack's options for a fit of iters iterations (K left at its default); throws Error
    // for an unknown spacing or penalty.
    ScaleOptions resolve(int iters) const;

private:
    std::string spacing_ = "geometric";
    std::optional<float> smooth_;
    std::optional<std::string> smooth_kind_;
    std::optional<int> smooth_iters_;
};

// A stack fit's options in JSON: spacing, smooth, smooth_kind, smooth_iters (the iterations
// the penalty held for, at most iters).
void add_stack_json(nlohmann::json &j, const ScaleOptions &so, int iters);

}  // namespace blurmix
