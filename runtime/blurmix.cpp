#include "blurmix.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <map>
#include <mutex>
#include <vector>
#include <sys/mman.h>

#include "HalideRuntime.h"
#include "fit_recorder.h"
#include "pipeline_call.h"
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

// Halide reports pipeline errors through halide_error; the default handler only prints. Keep
// the message and let the caller throw it with the pipeline's name.
std::mutex error_mutex;
std::string error_message;

extern "C" void record_halide_error(void *, const char *msg) {
    std::lock_guard<std::mutex> lock(error_mutex);
    error_message += msg;
}

// Halide's scratch buffers (a tile's padded rows, a strip of one pass) come from halide_malloc
// on every tile. glibc serves blocks of more than 128 KiB with a fresh mmap, so every tile paid
// page faults on memory just given back (a quarter of a 2048x2048 blur's time at sigma 1, in
// the kernel). Each thread keeps the blocks it frees for its next allocations of the same size.
constexpr size_t kScratchAlign = 128;       // what Halide's own halide_malloc guarantees
constexpr size_t kScratchKept = 8 << 20;    // larger blocks (whole images) go back at once
struct ScratchCache {
    std::array<void *, 4> blocks{};  // each starts with its size, the data kScratchAlign later
    ~ScratchCache() {
        for (void *b : blocks) std::free(b);
    }
};
thread_local ScratchCache scratch;

extern "C" void *scratch_malloc(void *, size_t size) {
    for (void *&b : scratch.blocks) {
        if (b && *static_cast<size_t *>(b) == size) {
            void *p = b;
            b = nullptr;
            return static_cast<char *>(p) + kScratchAlign;
        }
    }
    const size_t total = (size + 2 * kScratchAlign - 1) / kScratchAlign * kScratchAlign;
    void *p = std::aligned_alloc(kScratchAlign, total);
    if (!p) return nullptr;
    *static_cast<size_t *>(p) = size;
    return static_cast<char *>(p) + kScratchAlign;
}

extern "C" void scratch_free(void *, void *ptr) {
    if (!ptr) return;
    void *p = static_cast<char *>(ptr) - kScratchAlign;
    if (*static_cast<size_t *>(p) <= kScratchKept) {
        for (void *&b : scratch.blocks) {
            if (!b) {
                b = p;
                return;
            }
        }
        std::free(scratch.blocks[0]);  // the oldest
        std::rotate(scratch.blocks.begin(), scratch.blocks.begin() + 1, scratch.blocks.end());
        scratch.blocks.back() = p;
        return;
    }
    std::free(p);
}

// Images of several megabytes are mapped in 2 MiB pages rather than 4 KiB ones: a fit of a
// 2048x2048 image writes over 100 MiB of fresh buffers, and a page fault per 4 KiB was a third
// of its time. (Debian's transparent huge pages are given only to memory that asks: 'madvise'.)
// Freed ones are kept, up to kImagesKept bytes, for the next image of the same size: a fresh
// mapping is zeroed by the kernel page by page (a fifth of a 2048x2048 fit's time), and fits
// in a row (frames, a benchmark's repeats) allocate the same sizes again.
constexpr size_t kHuge = 2 << 20;
constexpr size_t kImagesKept = 256 << 20;
struct ImageCache {
    std::mutex mutex;
    std::map<void *, size_t> sizes;                // every large block allocated, by address
    std::vector<std::pair<void *, size_t>> kept;   // freed ones, the oldest first
    size_t kept_bytes = 0;
};
ImageCache &image_cache() {
    static ImageCache *c = new ImageCache;  // never destroyed: images may outlive static objects
    return *c;
}

void *image_malloc(size_t size) {
    if (size < 4 * kHuge) return std::malloc(size);
    const size_t rounded = (size + kHuge - 1) / kHuge * kHuge;
    ImageCache &c = image_cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    for (auto it = c.kept.begin(); it != c.kept.end(); ++it) {
        if (it->second == rounded) {
            void *p = it->first;
            c.kept_bytes -= rounded;
            c.kept.erase(it);
            return p;
        }
    }
    void *p = std::aligned_alloc(kHuge, rounded);
    if (!p) return nullptr;
    madvise(p, rounded, MADV_HUGEPAGE);
    c.sizes[p] = rounded;
    return p;
}

void image_free(void *p) {
    if (!p) return;
    ImageCache &c = image_cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.sizes.find(p);
    if (it == c.sizes.end()) return std::free(p);
    const size_t size = it->second;
    if (size > kImagesKept) {
        c.sizes.erase(it);
        return std::free(p);
    }
    c.kept.emplace_back(p, size);
    c.kept_bytes += size;
    while (c.kept_bytes > kImagesKept) {
        auto [old, old_size] = c.kept.front();
        c.kept.erase(c.kept.begin());
        c.kept_bytes -= old_size;
        c.sizes.erase(old);
        std::free(old);
    }
}

void release_kept(ImageCache &c) {
    std::lock_guard<std::mutex> lock(c.mutex);
    for (auto [p, size] : c.kept) {
        c.sizes.erase(p);
        std::free(p);
    }
    c.kept.clear();
    c.kept_bytes = 0;
}

const bool handlers_installed = [] {
    Halide::Runtime::Buffer<>::set_default_allocate_fn(image_malloc);
    Halide::Runtime::Buffer<>::set_default_deallocate_fn(image_free);
    halide_set_error_handler(record_halide_error);
    halide_set_custom_malloc(scratch_malloc);
    halide_set_custom_free(scratch_free);
    return true;
}();

std::string take_error(int rc) {
    std::lock_guard<std::mutex> lock(error_mutex);
    std::string msg = error_message.empty() ? "error code " + std::to_string(rc) : error_message;
    error_message.clear();
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return msg;
}

void check(int rc, const std::string &what) {
    if (rc != 0) throw Error(what + " failed: " + take_error(rc));
}

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
    if (rc != 0) return "its driver or device did not answer: " + take_error(rc);
    b.device_free();
    return "";
}

template <typename Fn>
Fn lookup(const std::string &pipeline, const Variant &v, Fn) {
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
    return reinterpret_cast<Fn>(it->second);
}

// A width x height view of one global logit: zero strides, so the pipelines read it as a map.
Map broadcast(const Map &scalar, int width, int height) {
    halide_dimension_t dims[2] = {{0, width, 0}, {0, height, 0}};
    return Map(const_cast<float *>(scalar.data()), 2, dims);
}

Map logit_view(const Map &logits, int width, int height) {
    if (logits.width() == 1 && logits.height() == 1) return broadcast(logits, width, height);
    if (logits.width() != width || logits.height() != height) {
        throw Error("weight map is " + std::to_string(logits.width()) + "x" +
                    std::to_string(logits.height()) + " but the image is " +
                    std::to_string(width) + "x" + std::to_string(height));
    }
    return logits;
}

void check_same_size(const Image &a, const Image &b, const std::string &what) {
    if (a.width() != b.width() || a.height() != b.height() || a.channels() != b.channels()) {
        auto size = [](const Image &i) {
            return std::to_string(i.width()) + "x" + std::to_string(i.height()) + "x" +
                   std::to_string(i.channels());
        };
        throw Error(what + ": sizes differ (" + size(a) + " and " + size(b) + ")");
    }
}

Image like(const Image &in) { return Image(in.width(), in.height(), in.channels()); }

}  // namespace

Boundary parse_boundary(const std::string &name) {
    if (name == "zero") return Boundary::zero;
    if (name == "clamp") return Boundary::clamp;
    if (name == "mirror") return Boundary::mirror;
    throw Error("unknown boundary '" + name + "' (zero, clamp or mirror)");
}

const char *boundary_name(Boundary b) {
    switch (b) {
    case Boundary::zero: return "zero";
    case Boundary::clamp: return "clamp";
    case Boundary::mirror: return "mirror";
    }
    return "?";
}

Mode parse_mode(const std::string &name) {
    if (name == "local") return Mode::local;
    if (name == "global") return Mode::global;
    throw Error("unknown mode '" + name + "' (local or global)");
}

std::string to_string(const Variant &v) { return v.device + "/" + v.schedule; }

std::vector<Variant> built_variants(const std::string &pipeline) {
    std::vector<Variant> out;
    for (const auto &[key, fn] : registry()) {
        if (key.rfind(pipeline + "/", 0) != 0) continue;
        auto a = key.find('/'), b = key.rfind('/');
        out.push_back({key.substr(a + 1, b - a - 1), key.substr(b + 1)});
    }
    return out;
}

std::vector<std::pair<Variant, std::string>> skipped_variants(const std::string &pipeline) {
    std::vector<std::pair<Variant, std::string>> out;
    for (const auto &[key, why] : skipped()) {
        if (key.rfind(pipeline + "/", 0) != 0) continue;
        auto a = key.find('/'), b = key.rfind('/');
        out.push_back({{key.substr(a + 1, b - a - 1), key.substr(b + 1)}, why});
    }
    return out;
}

std::string device_status(const std::string &device) {
    static std::mutex mutex;
    static std::map<std::string, std::string> known;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = known.find(device);
    if (it == known.end()) it = known.emplace(device, probe(device)).first;
    return it->second;
}

bool device_available(const std::string &device) { return device_status(device).empty(); }

void check_sigma(float sigma, const char *what) {
    // Past 1000 the kernel is wider than any image this tool is meant for.
    if (!(sigma > 0.f) || !(sigma <= 1000.f)) {
        throw Error(std::string(what) + " must be a number in (0, 1000], not " + std::to_string(sigma));
    }
}

static void check_blur_args(float sigma, const BlurOptions &opt) {
    check_sigma(sigma, "sigma");
    if (!(opt.std_devs > 0.f) || !(opt.std_devs <= 10.f)) {
        throw Error("std-devs must be a number in (0, 10], not " + std::to_string(opt.std_devs));
    }
}

Image blur(const Image &input, float sigma, const BlurOptions &opt) {
    Image out = like(input);
    blur(input, sigma, opt, out);
    return out;
}

void blur(const Image &input, float sigma, const BlurOptions &opt, Image &out) {
    check_blur_args(sigma, opt);
    check_same_size(input, out, "blur output");
    auto fn = lookup("blur", opt.variant, &blurmix_blur_cpu_manual);
    check(fn(in(input), sigma, opt.std_devs, (int)opt.boundary, out), "blur");
    to_host(out);
}

std::pair<Image, Image> blur_with_derivative(const Image &input, float sigma, const BlurOptions &opt) {
    check_blur_args(sigma, opt);
    Image out = like(input), d_out = like(input);
    auto fn = lookup("blur_with_derivative", opt.variant, &blurmix_blur_with_derivative_cpu_manual);
    check(fn(in(input), sigma, opt.std_devs, (int)opt.boundary, out, d_out), "blur with derivative");
    to_host(out);
    to_host(d_out);
    return {out, d_out};
}

Image mix(const Image &blur_min, const Image &blur_max, const Map &logits, const Variant &v) {
    Image out = like(blur_min);
    mix(blur_min, blur_max, logits, v, out);
    return out;
}

void mix(const Image &blur_min, const Image &blur_max, const Map &logits, const Variant &v, Image &out) {
    check_same_size(blur_min, blur_max, "mix");
    check_same_size(blur_min, out, "mix output");
    Map l = logit_view(logits, blur_min.width(), blur_min.height());
    auto fn = lookup("mix", v, &blurmix_mix_cpu_manual);
    check(fn(in(blur_min), in(blur_max), in(l), out), "mix");
    to_host(out);
}

Map logits_of(const Map &weights) {
    Map out(weights.width(), weights.height());
    out.for_each_value([](float &l, float w) {
        if (!(w >= 0.f && w <= 1.f)) throw Error("weights must lie in [0, 1], found " + std::to_string(w));
        l = w <= 0.f ? -30.f : w >= 1.f ? 30.f : std::log(w / (1.f - w));
    }, weights);
    return out;
}

Map weights_of(const Map &logits) {
    Map out(logits.width(), logits.height());
    out.for_each_value([](float &w, float l) { w = 1.f / (1.f + std::exp(-l)); }, logits);
    return out;
}

Gradient mix_gradient(const Image &blur_min, const Image &blur_max, const Map &logits,
                      const Image &target, const Variant &v, const Image *d_blur_min,
                      const Image *d_blur_max) {
    check_same_size(blur_min, blur_max, "mix gradient");
    check_same_size(blur_min, target, "source and target");
    Gradient g;
    g.d_logit = Map(blur_min.width(), blur_min.height());
    Map l = logit_view(logits, blur_min.width(), blur_min.height());
    auto loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto total = Halide::Runtime::Buffer<double, 0>::make_scalar();
    if (d_blur_min && d_blur_max) {
        auto ds_min = Halide::Runtime::Buffer<float, 0>::make_scalar();
        auto ds_max = Halide::Runtime::Buffer<float, 0>::make_scalar();
        auto fn = lookup("mix_gradient_sigmas", v, &blurmix_mix_gradient_sigmas_cpu_manual);
        check(fn(in(blur_min), in(blur_max), in(l), in(target), in(*d_blur_min), in(*d_blur_max), loss, g.d_logit, total,
                 ds_min, ds_max), "mix gradient");
        to_host(ds_min);
        to_host(ds_max);
        g.d_sigma_min = ds_min();
        g.d_sigma_max = ds_max();
    } else {
        auto fn = lookup("mix_gradient", v, &blurmix_mix_gradient_cpu_manual);
        check(fn(in(blur_min), in(blur_max), in(l), in(target), loss, g.d_logit, total), "mix gradient");
    }
    to_host(loss);
    to_host(total);
    to_host(g.d_logit);
    g.loss = loss();
    g.d_logit_total = total();
    return g;
}

AdamaxState::AdamaxState(const Map &initial)
    : param(initial.copy()), exp_avg(initial.width(), initial.height()),
      exp_inf(initial.width(), initial.height()) {
    exp_avg.fill(0.f);
    exp_inf.fill(0.f);
}

void adamax_step(AdamaxState &s, const Map &grad, const AdamaxParams &p, const Variant &v) {
    // Fresh outputs rather than in place: an autoscheduled variant may order its three outputs
    // so that one reads a state another has already overwritten.
    Map param(s.param.width(), s.param.height()), avg(param.width(), param.height()),
        inf(param.width(), param.height());
    // A few parameters (the two sigmas, one global logit) are not worth a GPU launch, and an
    // autoscheduled variant's tiles, sized for a map of the estimates' size, may not fit them.
    const bool tiny = s.param.number_of_elements() < 64;
    auto fn = lookup("adamax", tiny ? Variant{} : v, &blurmix_adamax_cpu_manual);
    check(fn(in(s.param), in(s.exp_avg), in(s.exp_inf), in(grad), s.step + 1, p.lr, p.beta1, p.beta2, p.eps,
             param, avg, inf), "adamax");
    for (Map *m : {&param, &avg, &inf}) to_host(m->raw_buffer());
    s.param = param;
    s.exp_avg = avg;
    s.exp_inf = inf;
    s.step++;
}

void check_fit_inputs(const Image &source, const Image &target, const FitOptions &opt) {
    check_same_size(source, target, "source and target");
    check_sigma(opt.sigma_min, "sigma-min");
    check_sigma(opt.sigma_max, "sigma-max");
    if (!(opt.sigma_min < opt.sigma_max)) {
        throw Error("sigma-min (" + std::to_string(opt.sigma_min) +
                    ") must be smaller than sigma-max (" + std::to_string(opt.sigma_max) + ")");
    }
    if (opt.iters < 1) throw Error("iters must be at least 1, not " + std::to_string(opt.iters));
    if (!(opt.adamax.lr > 0.f) || !std::isfinite(opt.adamax.lr)) {
        throw Error("lr must be a positive number, not " + std::to_string(opt.adamax.lr));
    }
    check_finite(source, "source");
    check_finite(target, "target");
    if (opt.report_every < 1) throw Error("report_every must be at least 1");
}

float loss_at(const FitResult &r, int iteration) {
    for (const LossPoint &p : r.losses) {
        if (p.iteration == iteration) return p.loss;
    }
    throw Error("the loss at iteration " + std::to_string(iteration) + " was not recorded");
}

namespace {

// One mix gradient and one Adamax step per iteration; the blurs and their sigma derivatives
// recomputed each iteration when the sigmas are learned.
// a and b are left as the blurs at the final sigmas.
Map fit_stepwise(const Image &source, const Image &target, const FitOptions &opt, FitRecorder &rec,
                 Image &a, Image &b, float &s_min_out, float &s_max_out) {
    const Variant &v = opt.blur.variant;
    Map init = opt.mode == Mode::local ? Map(source.width(), source.height()) : Map(1, 1);
    init.fill(0.f);
    AdamaxState logits(init);
    Map sigmas0(2, 1);
    sigmas0(0, 0) = opt.sigma_min;
    sigmas0(1, 0) = opt.sigma_max;
    AdamaxState sigmas(sigmas0);
    Image da, db;
    if (!opt.learn_sigmas) {
        a = blur(source, opt.sigma_min, opt.blur);
        b = blur(source, opt.sigma_max, opt.blur);
    }
    Map grad_total(1, 1), grad_sigmas(2, 1);
    for (int it = 0; it < opt.iters; it++) {
        if (rec.stop(it)) break;
        const float s_min = sigmas.param(0, 0), s_max = sigmas.param(1, 0);
        if (opt.learn_sigmas) {
            std::tie(a, da) = blur_with_derivative(source, s_min, opt.blur);
            std::tie(b, db) = blur_with_derivative(source, s_max, opt.blur);
        }
        Gradient g = opt.learn_sigmas ? mix_gradient(a, b, logits.param, target, v, &da, &db)
                                      : mix_gradient(a, b, logits.param, target, v);
        rec.record(it, g.loss, logits.param, s_min, s_max);
        if (opt.mode == Mode::global) {
            grad_total(0, 0) = (float)g.d_logit_total;
            adamax_step(logits, grad_total, opt.adamax, v);
        } else {
            adamax_step(logits, g.d_logit, opt.adamax, v);
        }
        if (opt.learn_sigmas) {
            grad_sigmas(0, 0) = g.d_sigma_min;
            grad_sigmas(1, 0) = g.d_sigma_max;
            adamax_step(sigmas, grad_sigmas, opt.adamax, v);
            // The kernel needs sigma > 0; a step that would cross it stops just short.
            for (int i = 0; i < 2; i++) sigmas.param(i, 0) = std::max(sigmas.param(i, 0), 0.05f);
        }
        rec.r.iterations = it + 1;
    }
    s_min_out = sigmas.param(0, 0);
    s_max_out = sigmas.param(1, 0);
    if (opt.learn_sigmas) {
        a = blur(source, s_min_out, opt.blur);
        b = blur(source, s_max_out, opt.blur);
    }
    return logits.param;
}

// Fixed blurs: the fit needs only each pixel's moments (a, b, c), or their totals for a global
// weight; fit_steps then runs the iterations between two recorded ones in one call.
Map fit_fused(const Image &source, const Image &target, const FitOptions &opt, FitRecorder &rec,
              Image &a, Image &b) {
    const Variant &v = opt.blur.variant;
    const int w = source.width(), h = source.height();
    a = blur(source, opt.sigma_min, opt.blur);
    b = blur(source, opt.sigma_max, opt.blur);
    Image moments(w, h, 3);
    Halide::Runtime::Buffer<double, 1> totals(3);
    auto moments_fn = lookup("fit_moments", v, &blurmix_fit_moments_cpu_manual);
    check(moments_fn(in(a), in(b), in(target), moments, totals), "fit moments");
    to_host(moments);
    to_host(totals);
    if (opt.mode == Mode::global) {
        Image m(1, 1, 3);
        for (int j = 0; j < 3; j++) m(0, 0, j) = (float)totals(j);
        moments = m;
    }
    const float inv_n = (float)(1.0 / ((double)w * h * source.channels()));
    // Not in place: the loss output reads the starting state, which the pipeline may schedule
    // after writing the new one. (A zero-stride zero state would save the fill on the CPU, but
    // Halide's copy to a GPU does not take zero strides.)
    Image state(moments.width(), moments.height(), 3), next(moments.width(), moments.height(), 3);
    state.fill(0.f);
    auto loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto steps_fn = lookup("fit_steps", v, &blurmix_fit_steps_cpu_manual);
    const AdamaxParams &p = opt.adamax;
    for (int it = 0; it < opt.iters;) {
        if (rec.stop(it)) break;
        const int end = rec.run_end(it, opt.iters);
        check(steps_fn(moments, state, it, end - it, p.lr, p.beta1, p.beta2, p.eps, inv_n, next,
                       loss), "fit steps");
        to_host(loss);
        if (rec.wanted(it)) {
            rec.record(it, loss(), state.sliced(2, 0), opt.sigma_min, opt.sigma_max);
        }
        to_host(next);
        std::swap(state, next);
        rec.r.iterations = it = end;
    }
    return state.sliced(2, 0);  // a view of the logit plane
}

// Learned sigmas, local mode: each iteration is one call of fit_sigma_step, which recomputes
// both blurs and their sigma derivatives and updates the logits and the sigmas together.
Map fit_sigma_fused(const Image &source, const Image &target, const FitOptions &opt,
                    FitRecorder &rec, Image &a, Image &b, float &s_min_out, float &s_max_out) {
    const Variant &v = opt.blur.variant;
    const int w = source.width(), h = source.height();
    Image state(w, h, 3), next(w, h, 3);
    state.fill(0.f);
    Map sigmas(2, 3), sigmas_next(2, 3);
    sigmas.fill(0.f);
    sigmas(0, 0) = opt.sigma_min;
    sigmas(1, 0) = opt.sigma_max;
    auto loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
    auto fn = lookup("fit_sigma_step", v, &blurmix_fit_sigma_step_cpu_manual);
    const AdamaxParams &p = opt.adamax;
    for (int it = 0; it < opt.iters; it++) {
        if (rec.stop(it)) break;
        check(fn(in(source), in(target), state, sigmas(0, 0), sigmas(1, 0), sigmas, it + 1, p.lr, p.beta1, p.beta2, p.eps,
                 opt.blur.std_devs, (int)opt.blur.boundary, next, sigmas_next, loss),
              "fit sigma step");
        to_host(loss);
        to_host(sigmas_next);
        rec.record(it, loss(), state.sliced(2, 0), sigmas(0, 0), sigmas(1, 0));
        to_host(next);
        std::swap(state, next);
        std::swap(sigmas, sigmas_next);
        rec.r.iterations = it + 1;
    }
    s_min_out = sigmas(0, 0);
    s_max_out = sigmas(1, 0);
    a = blur(source, s_min_out, opt.blur);
    b = blur(source, s_max_out, opt.blur);
    return state.sliced(2, 0);  // a view of the logit plane
}

}  // namespace

FitResult fit(const Image &source, const Image &target, const FitOptions &opt) {
    check_fit_inputs(source, target, opt);
    const auto start = std::chrono::steady_clock::now();
    const int w = source.width(), h = source.height();
    FitResult r;
    FitRecorder rec{opt, r};
    r.sigma_min = opt.sigma_min;
    r.sigma_max = opt.sigma_max;
    Image a, b;
    if (opt.fused && !opt.learn_sigmas) {
        r.logits = fit_fused(source, target, opt, rec, a, b);
    } else if (opt.fused && opt.mode == Mode::local) {
        r.logits = fit_sigma_fused(source, target, opt, rec, a, b, r.sigma_min, r.sigma_max);
    } else {
        r.logits = fit_stepwise(source, target, opt, rec, a, b, r.sigma_min, r.sigma_max);
    }
    r.weights = Map(w, h);
    r.sigma = Map(w, h);
    auto maps_fn = lookup("fit_maps", opt.blur.variant, &blurmix_fit_maps_cpu_manual);
    check(maps_fn(logit_view(r.logits, w, h), r.sigma_min, r.sigma_max, r.weights, r.sigma), "fit maps");
    to_host(r.weights);
    to_host(r.sigma);
    r.fitted = mix(a, b, r.logits, opt.blur.variant);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

void release_kept_images() { release_kept(image_cache()); }

void *find_pipeline(const std::string &pipeline, const Variant &v) {
    return (void *)lookup(pipeline, v, (void (*)())nullptr);
}

void check_pipeline(int rc, const std::string &what) { check(rc, what); }

}  // namespace blurmix
