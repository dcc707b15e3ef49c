// Pieces of the blurmix driver shared by its subcommands.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "blurmix.h"

namespace blurmix {

// Refuses, before any work is done, an output whose format or directory will not do.
void check_output_path(const std::string &path);
// Creates dir if needed and checks that a file can be written in it.
void prepare_output_dir(const std::string &dir);

void print_progress(const FitProgress &p, const char *prefix = "");
nlohmann::json fit_json(const FitResult &r, const FitOptions &opt);

struct DemoArgs {
    std::string out = "demo-out";
    int iters = 1000;
    bool json = false;
    Variant variant;
};
int run_demo(const DemoArgs &args);

}  // namespace blurmix
