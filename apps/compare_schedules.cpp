// compare_schedules: times every stage for every built schedule and available device at several
// sizes, checks each result against the manual CPU schedule, and prints a Markdown table (and
// CSV with --csv). Exit status 0 when every variant agrees, 1 when one does not, 2 on a bad
// command line, 77 when a device asked for with --devices is not available here.
// GPU variants also get a blur row with the data left on the device ("on the device"): the
// kernels' own time, against which the device's memory bandwidth is a bound.
// CPU blur rows also get the fraction of the machine's FMA peak (machine_peak.h, printed with the
// table) and their time against a plain copy of the same bytes on the same threads (the bound for
// a blur that reads and writes the image once).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <cstring>
#include <random>
#include <sstream>

#include "HalideRuntime.h"
#include "blurmix.h"
#include "fixed_digits.h"
#include "halide_benchmark.h"
#include "machine_peak.h"
#include "pipeline_headers.h"
// The core library's own way to a generated pipeline (internal to it): the "on the device" rows
// call the blur pipeline directly, with buffers that stay on the device.
#include "pipelines.h"
#include "scales.h"
#ifdef BLURMIX_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

using namespace blurmix;

namespace {

struct Row {
    std::string stage, device, schedule, status;
    int size = 0;
    double ms = NAN, mpix = NAN, speedup = NAN, gflops = NAN, diff = NAN;
    double vs_copy = NAN;        // ms over the copy's ms at the same size (CPU blur rows)
    double peak_fraction = NAN;  // gflops over the FMA peak (CPU blur rows), set once it is known
};

struct Settings {
    int repeats = 7;
    double min_sample_s = 0.02;  // each sample runs the op this long at least
};

// The median over repeats of the mean time of one call, each repeat long enough to time, after
// one warm-up call (which the caller makes, as it also checks the result).
double median_seconds(const std::function<void()> &op, const Settings &s) {
    double once = Halide::Tools::benchmark(1, 1, op);
    uint64_t iters = std::max<uint64_t>(1, (uint64_t)std::ceil(s.min_sample_s / std::max(once, 1e-9)));
    std::vector<double> times;
    for (int r = 0; r < s.repeats; r++) times.push_back(Halide::Tools::benchmark(1, iters, op));
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

double max_abs(const Image &a) {
    double m = 0;
    a.for_each_value([&](float v) { m = std::max(m, (double)std::abs(v)); });
    return m;
}

double max_diff(const Image &a, const Image &b) {
    double m = 0;
    a.for_each_element([&](int x, int y, int c) { m = std::max(m, (double)std::abs(a(x, y, c) - b(x, y, c))); });
    return m;
}

Image as_image(const Map &m) {
    Image out(m.width(), m.height(), 1);
    out.for_each_element([&](int x, int y, int) { out(x, y, 0) = m(x, y); });
    return out;
}

// Iterations of the stack's fits that are checked against the manual CPU schedule: one. A
// pixel's loss along the stack has several minima and its gradient jumps where the pair of
// scales changes, so a last-bit difference (OpenCL's exp) can send a pixel another way: on PoCL,
// 1.5e-3 of the sigma range after 5 iterations at 512x512. The pipelines themselves are checked
// against each other in tests/test_scales.cpp.
constexpr int kStackCheckIters = 1;

// Relative difference: max |a - b| over max |b| (over 1 where the values are of order one).
double rel_diff(const Image &a, const Image &b, bool unit_scale) {
    double scale = unit_scale ? std::max(1.0, max_abs(b)) : std::max(1e-30, max_abs(b));
    return max_diff(a, b) / scale;
}

Image random_image(int w, int h, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    Image im(w, h, 1);
    im.for_each_value([&](float &v) { v = u(rng); });
    return im;
}

// FLOPs of the folded separable blur per pixel and channel: each pass does one multiply for the
// centre tap and, for each of the r tap pairs, one add (x[i-t] + x[i+t]) and one multiply-add
// (2 FLOPs): 1 + 3r per pass, 2 + 6r for both.
double blur_flops(float sigma) { return 2.0 + 6.0 * half_width(sigma, 2.f); }

std::vector<float> taps(float sigma) {
    const int r = half_width(sigma, 2.f);
    std::vector<float> w(2 * r + 1);
    float sum = 0;
    for (int t = -r; t <= r; t++) sum += w[t + r] = std::exp(-(float)(t * t) / (2 * sigma * sigma));
    for (float &v : w) v /= sum;
    return w;
}

// The reference for a memory-bound blur: the image's bytes copied once (read + write), one
// contiguous slice per thread of Halide's pool, run by that pool (halide_do_par_for), so that it
// has the threads and the start-up cost the blur has. With plain memcpy calls, which glibc makes
// with non-temporal stores for slices this large (written to memory without being read first);
// or with cached_stores, a loop of ordinary stores, which read each destination cache line from
// memory before writing it, as the blur's stores do: 1.5x the traffic of the first.
class ParallelCopy {
  public:
    ParallelCopy(const Image &src, Image &dst, bool cached_stores = false)
        : src_(src), dst_(dst), tasks_(halide_threads()), cached_stores_(cached_stores) {}
    void operator()() {
        if (halide_do_par_for(nullptr, task, 0, tasks_, reinterpret_cast<uint8_t *>(this)) != 0) {
            throw Error("copy: halide_do_par_for failed");
        }
    }
    int threads() const { return tasks_; }

  private:
    static int task(void *, int i, uint8_t *closure) {
        auto *self = reinterpret_cast<ParallelCopy *>(closure);
        const size_t bytes = self->src_.size_in_bytes(), begin = bytes * i / self->tasks_,
                     end = bytes * (i + 1) / self->tasks_;
        char *dst = (char *)self->dst_.data() + begin;
        const char *src = (const char *)self->src_.data() + begin;
        if (self->cached_stores_) {
            copy_with_cached_stores(dst, src, end - begin);
        } else {
            std::memcpy(dst, src, end - begin);
        }
        return 0;
    }
    // Kept a loop: GCC and clang would otherwise turn it into a call of memcpy (each has its own
    // way to say not to; clang ignores GCC's, with a warning).
#if defined(__clang__)
    __attribute__((no_builtin("memcpy")))
#else
    __attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
    static void copy_with_cached_stores(char *dst, const char *src, size_t n) {
        for (size_t i = 0; i < n; i++) dst[i] = src[i];
    }
    const Image &src_;
    Image &dst_;
    const int tasks_;
    const bool cached_stores_;
};

// Why a variant of one of these pipelines was not built ("" when all were).
std::string not_built(const std::vector<std::string> &pipelines, const Variant &v) {
    for (const std::string &p : pipelines) {
        for (const auto &[s, why] : skipped_variants(p)) {
            if (s.device == v.device && s.schedule == v.schedule) return p + ": " + why;
        }
    }
    return "";
}

// The blur pipeline of one variant called with its input and output kept on the device between
// calls. The runtime's blur() copies its input over and its result back on every call (the other
// blur rows), which on a discrete GPU costs more than the kernels; here the input goes over once,
// in the first call, and the result comes back only to be checked. One pair of buffers per
// variant, so that no buffer moves between devices.
class DeviceBlur {
  public:
    DeviceBlur(const Image &src, float sigma) : src_(src), sigma_(sigma) {}

    // The result, copied back to the host; on the CPU, the runtime's blur.
    Image run(const Variant &v) {
        if (v.device == "cpu") return blur(src_, sigma_, {2.f, Boundary::zero, v});
        Buffers &b = buffers(v);
        call(v, b);
        check(b.out.copy_to_host(), "copy to host");
        return b.out.copy();
    }

    // kCalls calls, then a wait until the device has finished them.
    void time(const Variant &v) {
        Buffers &b = buffers(v);
        for (int i = 0; i < kCalls; i++) call(v, b);
        check(b.out.device_sync(), "device sync");
    }
    static constexpr int kCalls = 8;

  private:
    struct Buffers {
        Image in, out;
    };
    Buffers &buffers(const Variant &v) {
        auto it = buffers_.find(to_string(v));
        if (it != buffers_.end()) return it->second;
        Buffers b{src_.copy(), Image(src_.width(), src_.height(), src_.channels())};
        b.in.set_host_dirty();  // copied to the device by the first call, then left there
        return buffers_.emplace(to_string(v), std::move(b)).first->second;
    }
    void call(const Variant &v, Buffers &b) {
        auto fn = lookup("blur", v, &blurmix_blur_cpu_manual);
        check(fn(b.in.raw_buffer(), sigma_, 2.f, (int)Boundary::zero, b.out.raw_buffer()), "blur", v);
    }
    const Image &src_;
    const float sigma_;
    std::map<std::string, Buffers> buffers_;
};

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"Times every stage for every built schedule and available device; checks each "
                 "against the manual CPU schedule"};
    std::vector<int> sizes = {64, 512, 2048};
    std::vector<std::string> devices, schedules, stage_filter;
    std::string csv_path;
    bool quick = false, reuse_device_allocations = false;
    int fit_iters = 100;
    app.add_option("--sizes", sizes, "square image sizes")->delimiter(',')->check(CLI::Range(8, 8192));
    app.add_option("--devices", devices, "devices to run (default: every device built and present)")->delimiter(',');
    app.add_option("--schedules", schedules, "schedules to run (default: every one built)")->delimiter(',');
    app.add_option("--stages", stage_filter, "run only the stages whose name contains one of these words")->delimiter(',');
    app.add_option("--csv", csv_path, "also write the table as CSV to this file");
    app.add_option("--fit-iters", fit_iters, "iterations of the whole local fit")->check(CLI::Range(1, 100000));
    app.add_flag("--quick", quick, "small sizes, few repeats, a short fit: a check, not a measurement");
    app.add_flag("--reuse-device-allocations", reuse_device_allocations,
                 "let Halide keep freed GPU allocations for the next call (halide_reuse_device_allocations)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    }
    Settings settings;
    if (quick) {
        if (app.count("--sizes") == 0) sizes = {64};
        if (app.count("--fit-iters") == 0) fit_iters = 10;
        settings = {3, 0.002};
    }

    if (reuse_device_allocations) halide_reuse_device_allocations(nullptr, true);

    try {
        // Opened first, so that an unwritable path is refused before the long run.
        AtomicFile csv_file;
        if (!csv_path.empty()) csv_file.open(csv_path);
        std::vector<Variant> variants;
        std::map<std::string, std::string> absent;  // device -> why
        bool asked_absent = false;
        for (const Variant &v : built_variants()) {
            if (!devices.empty() && std::find(devices.begin(), devices.end(), v.device) == devices.end()) continue;
            if (!schedules.empty() && std::find(schedules.begin(), schedules.end(), v.schedule) == schedules.end()) continue;
            std::string why = device_status(v.device);
            if (!why.empty()) {
                absent[v.device] = why;
                continue;
            }
            variants.push_back(v);
        }
        for (const std::string &d : devices) {
            bool built = false;
            for (const Variant &v : built_variants()) built |= v.device == d;
            if (!built) absent[d] = "no " + d + " pipelines were built";
            if (absent.count(d)) asked_absent = true;
        }
        for (const auto &[d, why] : absent) std::cerr << "SKIPPED: device " << d << ": " << why << "\n";
        if (asked_absent && variants.empty()) return 77;
        // The reference first, then naive (the speed-up's base), then the rest as built.
        std::stable_sort(variants.begin(), variants.end(), [](const Variant &a, const Variant &b) {
            auto rank = [](const Variant &v) {
                return v.device == "cpu" ? (v.schedule == "manual" ? 0 : v.schedule == "naive" ? 1 : 2) : 3;
            };
            return rank(a) < rank(b);
        });
        const Variant reference;

        std::vector<Row> rows;
        bool all_agree = true;
        for (int n : sizes) {
            const double mpix = (double)n * n / 1e6;
            Image src = random_image(n, n, 1), target = blur(random_image(n, n, 2), 5.f);
            Image a = blur(src, 3.f), b = blur(src, 9.f);
            Map logits(n, n);
            logits.for_each_element([&](int x, int y) { logits(x, y) = std::sin(0.1f * x) + std::cos(0.07f * y); });
            Map grad = mix_gradient(a, b, logits, target).d_logit;

            struct Stage {
                std::string name;
                std::function<Image(const Variant &)> run;  // the result to check
                std::function<void(const Variant &)> op;    // what is timed
                double flops = NAN;                         // per pixel, for the blur
                bool unit_scale = true;
                std::vector<std::string> pipelines = {"blur"};  // what it runs
                bool whole_fit = false;  // timed once at large sizes, checked to 1e-3
                bool gpu_only = false;   // no rows for the CPU variants
                int calls_per_op = 1;    // op makes this many calls; the row is per call
            };
            Image out(n, n, 1);
            std::vector<Stage> stages;
            std::vector<std::unique_ptr<DeviceBlur>> device_blurs;
            for (float s : {1.f, 3.f, 9.f}) {
                stages.push_back({"blur sigma " + fixed_digits(s, 0),
                                  [&, s](const Variant &v) { return blur(src, s, {2.f, Boundary::zero, v}); },
                                  [&, s](const Variant &v) { blur(src, s, {2.f, Boundary::zero, v}, out); },
                                  blur_flops(s)});
                DeviceBlur *db = device_blurs.emplace_back(std::make_unique<DeviceBlur>(src, s)).get();
                Stage on_device{"blur sigma " + fixed_digits(s, 0) + " on the device",
                                [db](const Variant &v) { return db->run(v); },
                                [db](const Variant &v) { db->time(v); }, blur_flops(s)};
                on_device.gpu_only = true;
                on_device.calls_per_op = DeviceBlur::kCalls;
                stages.push_back(on_device);
            }
            stages.push_back({"mix", [&](const Variant &v) { return mix(a, b, logits, v); },
                              [&](const Variant &v) { mix(a, b, logits, v, out); }, NAN, true, {"mix"}});
            stages.push_back({"gradient",
                              [&](const Variant &v) { return as_image(mix_gradient(a, b, logits, target, v).d_logit); },
                              [&](const Variant &v) { mix_gradient(a, b, logits, target, v); }, NAN, false, {"mix_gradient"}});
            // The state lives across the timed calls: they time the step, not its set-up.
            AdamaxState state(logits);
            stages.push_back({"fit iteration (gradient + adamax)",
                              [&](const Variant &v) {
                                  AdamaxState st(logits);
                                  adamax_step(st, mix_gradient(a, b, st.param, target, v).d_logit, {}, v);
                                  return as_image(st.param);
                              },
                              [&](const Variant &v) {
                                  adamax_step(state, mix_gradient(a, b, state.param, target, v).d_logit, {}, v);
                              }, NAN, true, {"mix_gradient", "adamax"}});
            // The exact local blur and the K = 7 stack on a sigma ramp from 3 to 9 across the
            // image. The local blur's 37x37 kernel per pixel is left out past 512.
            Map ramp(n, n);
            ramp.for_each_element([&](int x, int y) { ramp(x, y) = 3.f + 6.f * x / std::max(1, n - 1); });
            const std::vector<float> sig7 = scale_sigmas(3.f, 9.f, 7, Spacing::geometric);
            const Stack stack = scale_stack(src, sig7);
            const Map z = scale_params_of(ramp, sig7);
            if (n <= 512) {
                stages.push_back({"exact local blur (sigma 3..9)",
                                  [&](const Variant &v) { return local_blur(src, ramp, {2.f, Boundary::zero, v}); },
                                  [&](const Variant &v) { local_blur(src, ramp, {2.f, Boundary::zero, v}); }, NAN,
                                  true, {"local_blur"}});
            }
            stages.push_back({"K=7 stack mix", [&](const Variant &v) { return scale_mix(stack, z, v); },
                              [&](const Variant &v) { scale_mix(stack, z, v); }, NAN, true, {"scale_mix"}});
            stages.push_back({"K=7 stack gradient",
                              [&](const Variant &v) { return as_image(scale_mix_gradient(stack, z, target, {}, v).d_z); },
                              [&](const Variant &v) { scale_mix_gradient(stack, z, target, {}, v); }, NAN, false,
                              {"scale_mix_gradient"}});
            FitOptions fit_opt;
            fit_opt.iters = fit_iters;
            fit_opt.report_every = fit_iters + 1;
            // The stack's fused fit: the stack, its segment moments, then the iterations in
            // scale_steps, or with a penalty throughout in scale_smooth_steps. The quadratic
            // penalty costs what TV does (both are computed and one selected), but TV's turn
            // within 1e-3 of a zero difference magnifies rounding differences past the check's
            // tolerance (tests/test_scales.cpp).
            for (bool smooth : {false, true}) {
                ScaleOptions so{7, Spacing::geometric, {}};
                if (smooth) so.smooth = {Penalty::quadratic, 3e-3f};
                auto run = [&, so](const Variant &v, int iters) {
                    FitOptions o = fit_opt;
                    o.blur.variant = v;
                    o.iters = iters;
                    return fit_scales(src, target, o, so);
                };
                stages.push_back({std::string("K=7 stack fit") + (smooth ? " with a penalty" : "") + ", " +
                                      std::to_string(fit_iters) + " iterations",
                                  [run](const Variant &v) { return as_image(run(v, kStackCheckIters).sigma); },
                                  [run, fit_iters](const Variant &v) { run(v, fit_iters); }, NAN, true,
                                  {"blur", "scale_moments", smooth ? "scale_smooth_steps" : "scale_steps", "scale_mix"},
                                  true});
            }
            stages.push_back({"local fit, " + std::to_string(fit_iters) + " iterations",
                              [&](const Variant &v) {
                                  FitOptions o = fit_opt;
                                  o.blur.variant = v;
                                  return as_image(fit(src, target, o).weights);
                              },
                              [&](const Variant &v) {
                                  FitOptions o = fit_opt;
                                  o.blur.variant = v;
                                  fit(src, target, o);
                              }, NAN, true, {"blur", "fit_moments", "fit_steps", "fit_maps", "mix"}, true});

            // The copy row: timed when any blur row or the copy itself is asked for.
            double copy_ms = NAN;
            auto asked = [&](const std::string &name) {
                return stage_filter.empty() ||
                       std::any_of(stage_filter.begin(), stage_filter.end(),
                                   [&](const std::string &w) { return name.find(w) != std::string::npos; });
            };
            if (asked("copy") || asked("blur sigma 1") || asked("blur sigma 3") || asked("blur sigma 9")) {
                for (bool cached : {false, true}) {
                    ParallelCopy copy(src, out, cached);
                    std::memset(out.data(), 0, out.size_in_bytes());
                    copy();
                    Row r{cached ? "copy (plain stores, the blur's bytes)" : "copy (memcpy, the blur's bytes)", "cpu",
                          std::to_string(copy.threads()) + " threads", "ok", n};
                    if (std::memcmp(out.data(), src.data(), src.size_in_bytes()) != 0) {
                        r.status = "DIFFERS";
                        all_agree = false;
                    }
                    r.ms = 1e3 * median_seconds(copy, settings);
                    if (!cached) copy_ms = r.ms;  // memcpy's row comes first: the reference
                    r.vs_copy = r.ms / copy_ms;
                    r.mpix = mpix / (r.ms * 1e-3);
                    rows.push_back(r);
                }
            }

            for (const Stage &st : stages) {
                if (!stage_filter.empty() &&
                    std::none_of(stage_filter.begin(), stage_filter.end(),
                                 [&](const std::string &w) { return st.name.find(w) != std::string::npos; })) {
                    continue;
                }
                if (st.gpu_only && std::all_of(variants.begin(), variants.end(),
                                               [](const Variant &v) { return v.device == "cpu"; })) {
                    continue;
                }
                Settings s = settings;
                if (st.whole_fit && n >= 1024) s = {1, 0.0};  // one run: it is long, and warm after the check
                Image want = st.run(reference);
                double naive_ms = NAN;
                std::vector<Row> stage_rows;
                for (const Variant &v : variants) {
                    if (st.gpu_only && v.device == "cpu") continue;
                    Row r{st.name, v.device, v.schedule, "ok", n};
                    std::string why = not_built(st.pipelines, v);
                    if (!why.empty()) {
                        r.status = "not built: " + why;
                        stage_rows.push_back(r);
                        continue;
                    }
                    Image got;
                    try {
                        got = st.run(v);  // also the warm-up
                    } catch (const Error &e) {
                        // Autoscheduled tiles are sized for the estimates (1024x1024x3): a smaller
                        // image can be refused. Reported, not timed.
                        r.status = std::string("fails: ") + e.what();
                        stage_rows.push_back(r);
                        continue;
                    }
                    r.diff = rel_diff(got, want, st.unit_scale);
                    // A whole fit: 100 Adamax steps divide by |gradient| and so amplify the
                    // rounding differences of reductions summed in another order.
                    const double tolerance = st.whole_fit ? 1e-3 : 1e-5;
                    if (!(r.diff <= tolerance)) {
                        r.status = "DIFFERS";
                        all_agree = false;
                    }
                    r.ms = 1e3 * median_seconds([&] { st.op(v); }, s) / st.calls_per_op;
                    r.mpix = mpix / (r.ms * 1e-3);
                    if (!std::isnan(st.flops)) r.gflops = st.flops * n * n / (r.ms * 1e-3) / 1e9;
                    if (!std::isnan(st.flops) && v.device == "cpu") r.vs_copy = r.ms / copy_ms;
                    if (v.device == "cpu" && v.schedule == "naive") naive_ms = r.ms;
                    stage_rows.push_back(r);
                    std::cerr << "." << std::flush;
                }
#ifdef BLURMIX_WITH_OPENCV
                if (!std::isnan(st.flops) && !st.gpu_only) {
                    const float sigma = std::stof(st.name.substr(st.name.rfind(' ') + 1));
                    std::vector<float> k = taps(sigma);
                    cv::Mat kernel(1, (int)k.size(), CV_32F, k.data());
                    cv::Mat in_mat(n, n, CV_32F, src.data()), out_mat(n, n, CV_32F, out.data());
                    auto op = [&] {
                        cv::sepFilter2D(in_mat, out_mat, CV_32F, kernel, kernel, cv::Point(-1, -1), 0,
                                        cv::BORDER_CONSTANT);
                    };
                    op();
                    Row r{st.name, "cpu", "opencv sepFilter2D", "ok", n};
                    r.diff = rel_diff(out, want, true);
                    if (!(r.diff <= 1e-5)) r.status = "DIFFERS";  // reported, not ours to fail
                    r.ms = 1e3 * median_seconds(op, s);
                    r.mpix = mpix / (r.ms * 1e-3);
                    r.gflops = st.flops * n * n / (r.ms * 1e-3) / 1e9;
                    r.vs_copy = r.ms / copy_ms;
                    stage_rows.push_back(r);
                }
#endif
                for (Row &r : stage_rows) r.speedup = naive_ms / r.ms;
                rows.insert(rows.end(), stage_rows.begin(), stage_rows.end());
            }
        }
        std::cerr << "\n";

        // After the timed work, so that the clock measured is the one the work ran at.
        const MachinePeak peak = measure_machine_peak();
        for (Row &r : rows) {
            if (r.device == "cpu" && !std::isnan(r.gflops) && peak.gflops() > 0) r.peak_fraction = r.gflops / peak.gflops();
        }
        std::cout << peak.describe() << "\n";
        std::cout << "| stage | size | device | schedule | ms | MP/s | vs naive | GFLOP/s | % of FMA peak | x copy "
                     "| max rel. diff | check |\n"
                  << "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
        for (const Row &r : rows) {
            std::cout << "| " << r.stage << " | " << r.size << " | " << r.device << " | " << r.schedule
                      << " | " << fixed_digits(r.ms, 3) << " | " << fixed_digits(r.mpix, 1) << " | " << fixed_digits(r.speedup, 2)
                      << " | " << fixed_digits(r.gflops, 1) << " | " << fixed_digits(100 * r.peak_fraction, 1) << " | "
                      << fixed_digits(r.vs_copy, 2) << " | " << (std::isnan(r.diff) ? "" : fixed_digits(r.diff * 1e6, 2) + "e-6")
                      << " | " << r.status << " |\n";
        }
        std::cout << "\nBlur GFLOP/s count the folded algorithm: 2 + 6r FLOPs per pixel (r = half width). "
                     "x copy: the row's time over the memcpy copy's at the same size.\n";
        for (const Row &r : rows) {
            if (r.stage == "blur sigma 1" && r.device == "cpu" && r.schedule == "manual" && !std::isnan(r.vs_copy)) {
                std::cout << "Blur sigma 1, " << r.size << "x" << r.size << ": " << fixed_digits(r.vs_copy, 2)
                          << "x the copy's time (goal at large images: at most 1.3x)";
                for (const Row &c : rows) {
                    if (c.size == r.size && c.stage.rfind("copy (plain stores", 0) == 0) {
                        std::cout << ", " << fixed_digits(r.vs_copy / c.vs_copy, 2)
                                  << "x that of the copy with plain stores (the blur's kind)";
                    }
                }
                std::cout << ".\n";
            }
        }
        if (!csv_path.empty()) {
            std::ostringstream csv;
            csv << "stage,size,device,schedule,ms,mpix_per_s,speedup_vs_naive,gflops,fma_peak_percent,"
                   "vs_copy,max_rel_diff,status\n";
            for (const Row &r : rows) {
                csv << '"' << r.stage << "\"," << r.size << "," << r.device << ",\"" << r.schedule << "\","
                    << fixed_digits(r.ms, 4) << "," << fixed_digits(r.mpix, 2) << "," << fixed_digits(r.speedup, 3) << ","
                    << fixed_digits(r.gflops, 2) << "," << fixed_digits(100 * r.peak_fraction, 2) << "," << fixed_digits(r.vs_copy, 3) << "," << (std::isnan(r.diff) ? "" : std::to_string(r.diff)) << ",\""
                    << r.status << "\"\n";
            }
            const std::string text = csv.str();
            if (std::fwrite(text.data(), 1, text.size(), csv_file.file()) != text.size()) {
                throw Error("cannot write " + csv_path);
            }
            csv_file.commit();
        }
        if (!all_agree) {
            std::cerr << "compare_schedules: some variants differ from the manual CPU schedule by more than 1e-5\n";
            return 1;
        }
        return 0;
    } catch (const std::exception &e) {
        std::cerr << "compare_schedules: " << e.what() << "\n";
        return 1;
    }
}
