// Which generated library runs a stage: a device and a schedule, and what was built.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace blurmix {

// Libraries that were not built are refused with a message saying how to build them.
struct Variant {
    std::string device = "cpu";        // cpu, opencl, cuda (as built)
    std::string schedule = "manual";   // manual, naive, or an autoscheduler's name (as built)
};
std::string to_string(const Variant &v);

// The variants built of a pipeline.
std::vector<Variant> built_variants(const std::string &pipeline = "blur");
// Variants of a pipeline that were skipped at build time (an autoscheduler that cannot schedule
// it), with the reason.
std::vector<std::pair<Variant, std::string>> skipped_variants(const std::string &pipeline);
// Whether a device's runtime answers here (cpu always; a GPU API when its driver is present and
// a device answers a small allocation). device_status says why not ("" when it does).
bool device_available(const std::string &device);
std::string device_status(const std::string &device);

}  // namespace blurmix
