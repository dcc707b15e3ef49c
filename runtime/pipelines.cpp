#include "pipelines.h"

#include <map>
#include <mutex>

#include "halide_hooks.h"
#include "pipeline_headers.h"
#ifdef BLURMIX_WITH_OPENCL
#include "HalideRuntimeOpenCL.h"
#endif
#ifdef BLURMIX_WITH_CUDA
#include "HalideRuntimeCuda.h"
#endif
#ifdef BLURMIX_WITH_VULKAN
#include "HalideRuntimeVulkan.h"
#endif

namespace blurmix {

namespace {

// Every generated library, keyed "pipeline/device/schedule". One pipeline's variants share a
// signature, which the manual CPU variant (always built) names.
const std::map<std::string, void *> &registry() {
    static const std::map<std::string, void *> r = {
#define BLURMIX_PIPELINE(gen, device, schedule, fn) {#gen "/" #device "/" #schedule, (void *)&fn},
#define BLURMIX_SKIPPED(gen, device, schedule, why)
#include "pipelines.inc"
#undef BLURMIX_PIPELINE
#undef BLURMIX_SKIPPED
    };
    return r;
}

const std::map<std::string, std::string> &skipped() {
    static const std::map<std::string, std::string> r = {
#define BLURMIX_PIPELINE(gen, device, schedule, fn)
#define BLURMIX_SKIPPED(gen, device, schedule, why) {#gen "/" #device "/" #schedule, why},
#include "pipelines.inc"
#undef BLURMIX_PIPELINE
#undef BLURMIX_SKIPPED
    };
    return r;
}

const halide_device_interface_t *device_interface(const std::string &device) {
#ifdef BLURMIX_WITH_OPENCL
    if (device == "opencl") return halide_opencl_device_interface();
#endif
#ifdef BLURMIX_WITH_CUDA
    if (device == "cuda") return halide_cuda_device_interface();
#endif
#ifdef BLURMIX_WITH_VULKAN
    if (device == "vulkan") return halide_vulkan_device_interface();
#endif
    return nullptr;
}

// A device is usable when its API's runtime opens the driver and a device answers a small
// allocation. Asked once per device and process.
std::string probe(const std::string &device) {
    if (device == "cpu") return "";
    const halide_device_interface_t *iface = device_interface(device);
    if (!iface) return "no " + device + " pipelines were built (configure with BLURMIX_GPU_TARGETS)";
    Halide::Runtime::Buffer<float, 1> b(16);
    int rc = b.device_malloc(iface);
    if (rc != 0) return "its driver or device did not answer: " + take_halide_error(rc);
    b.device_free();
    return "";
}

// "pipeline/device/schedule" of a registry key, as a Variant.
Variant variant_of_key(const std::string &key) {
    auto a = key.find('/'), b = key.rfind('/');
    return {key.substr(a + 1, b - a - 1), key.substr(b + 1)};
}

bool is_of(const std::string &key, const std::string &pipeline) { return key.rfind(pipeline + "/", 0) == 0; }

}  // namespace

std::string to_string(const Variant &v) { return v.device + "/" + v.schedule; }

std::vector<Variant> built_variants(const std::string &pipeline) {
    std::vector<Variant> out;
    for (const auto &[key, fn] : registry()) {
        if (is_of(key, pipeline)) out.push_back(variant_of_key(key));
    }
    return out;
}

std::vector<std::pair<Variant, std::string>> skipped_variants(const std::string &pipeline) {
    std::vector<std::pair<Variant, std::string>> out;
    for (const auto &[key, why] : skipped()) {
        if (is_of(key, pipeline)) out.push_back({variant_of_key(key), why});
    }
    return out;
}

std::string device_status(const std::string &device) {
    install_halide_hooks();
    static std::mutex mutex;
    static std::map<std::string, std::string> known;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = known.find(device);
    if (it == known.end()) it = known.emplace(device, probe(device)).first;
    return it->second;
}

bool device_available(const std::string &device) { return device_status(device).empty(); }

void *find_pipeline(const std::string &pipeline, const Variant &v) {
    install_halide_hooks();
    const std::string key = pipeline + "/" + v.device + "/" + v.schedule;
    auto it = registry().find(key);
    if (it == registry().end()) {
        auto skip = skipped().find(key);
        if (skip != skipped().end()) {
            throw Error("the " + pipeline + " pipeline for " + to_string(v) + " was not built: " + skip->second);
        }
        throw Error("no " + pipeline + " pipeline was built for " + to_string(v) +
                    " (configure with -DBLURMIX_SCHEDULES=... and the device's targets)");
    }
    std::string why = device_status(v.device);
    if (!why.empty()) throw Error("device " + v.device + " is not available: " + why);
    return it->second;
}

void check(int rc, const std::string &what) {
    if (rc != 0) throw Error(what + " failed: " + take_halide_error(rc));
}

void check(int rc, const std::string &what, const Variant &v) {
    if (rc == 0) return;
    const std::string msg = take_halide_error(rc);
    const bool hand_scheduled = v.schedule == "manual" || v.schedule == "naive";
    if (!hand_scheduled && msg.find("is accessed at") != std::string::npos) {
        throw Error(what + ": the " + v.schedule + " schedule cannot take an image this small (the " +
                    "autoscheduler sized its tiles for the build's estimates, and they reach past the " +
                    "image's edges); use the manual schedule (the default) or a larger image. Halide said: " + msg);
    }
    throw Error(what + " failed: " + msg);
}

}  // namespace blurmix
