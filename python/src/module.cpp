// blurmix._core: the C++ runtime and the backward pipelines for Python. Internal: the public API is
// the Python package (blurmix/__init__.py for NumPy, blurmix/torch.py for PyTorch), which checks
// and converts what users pass and calls these with planar float32 stacks.
//
// A stack is a C-ordered float32 array (N, C, H, W) on the CPU, the layout of a PyTorch batch:
// each of its N items is a Halide image (x, y, c) with strides (1, W, H W), used in place. (An
// (H, W, C) NumPy image has x stride C, which the pipelines do not take: the package copies it to
// planar.) Every call releases the GIL while pipelines run; blurmix::Error becomes ValueError.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <optional>

#include "HalideRuntime.h"
#include "blurmix.h"
#include "blurmix_fit_maps_cpu_manual.h"
#include "blurmix_fit_moments_cpu_manual.h"
#include "blurmix_fit_steps_cpu_manual.h"
#include "blurmix_inner_product_cpu.h"
#include "blurmix_mix_backward_cpu.h"
#include "blurmix_mix_backward_sigmas_cpu.h"
#include "pipelines.h"  // check(): the core library's own error capture for the backward pipelines
#include "scales.h"

namespace nb = nanobind;
using namespace blurmix;

namespace {

using Batch = nb::ndarray<float, nb::ndim<4>, nb::c_contig, nb::device::cpu>;
using InBatch = nb::ndarray<const float, nb::ndim<4>, nb::c_contig, nb::device::cpu>;
// Planes (..., H, W) of any number of leading axes: what a per-plane operation (the blur) takes.
using Planes = nb::ndarray<float, nb::c_contig, nb::device::cpu>;
using InPlanes = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;
// Logits of a stack: (N, H, W), or (N, 1, 1) for one global logit per item.
using InMaps = nb::ndarray<const float, nb::ndim<3>, nb::c_contig, nb::device::cpu>;
using Maps = nb::ndarray<float, nb::ndim<3>, nb::c_contig, nb::device::cpu>;
using InMap = nb::ndarray<const float, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Totals = nb::ndarray<double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Pairs = nb::ndarray<double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Array = nb::ndarray<nb::numpy, float>;

// Halide indexes a buffer with 32-bit integers.
void check_extent(size_t n, const char *what) {
    if (n == 0) throw Error(std::string(what) + " is empty");
    if (n > (size_t)std::numeric_limits<int32_t>::max()) {
        throw Error(std::string(what) + " is too large for the pipelines (over 2^31 values in one image)");
    }
}

template <typename A>
void check_stack(const A &a, const char *what) {
    for (size_t i = 0; i < 4; i++) check_extent(a.shape(i), what);
    check_extent(a.shape(1) * a.shape(2) * a.shape(3), what);
}

template <typename A, typename B>
void check_same_shape(const A &a, const B &b, const char *what) {
    bool same = a.ndim() == b.ndim();
    for (size_t i = 0; same && i < a.ndim(); i++) same = a.shape(i) == b.shape(i);
    if (!same) throw Error(std::string(what) + ": shapes differ");
}

// Item n of a stack as an image, in place: (x, y, c) = [n, c, y, x].
template <typename A>
Image item(const A &a, size_t n) {
    const int c = (int)a.shape(1), h = (int)a.shape(2), w = (int)a.shape(3);
    halide_dimension_t dims[3] = {{0, w, 1}, {0, h, w}, {0, c, w * h}};
    float *data = const_cast<float *>(a.data()) + n * (size_t)c * h * w;
    return Image(data, 3, dims);
}

// Planes (..., H, W) as one image of as many channels as planes: the blur runs on all at once.
template <typename A>
Image planes(const A &a) {
    if (a.ndim() < 2) throw Error("the image needs two axes (H, W) at least");
    size_t count = 1;
    for (size_t i = 0; i + 2 < a.ndim(); i++) count *= a.shape(i);
    const size_t h = a.shape(a.ndim() - 2), w = a.shape(a.ndim() - 1);
    for (size_t n : {count, h, w, count * h * w}) check_extent(n, "the image");
    halide_dimension_t dims[3] = {{0, (int)w, 1}, {0, (int)h, (int)w}, {0, (int)count, (int)(w * h)}};
    return Image(const_cast<float *>(a.data()), 3, dims);
}

Map map_item(const InMaps &m, size_t n) {
    const int h = (int)m.shape(1), w = (int)m.shape(2);
    halide_dimension_t dims[2] = {{0, w, 1}, {0, h, w}};
    return Map(const_cast<float *>(m.data()) + n * (size_t)h * w, 2, dims);
}

Map map_of(const InMap &m) {
    check_extent(m.shape(0), "the map");
    check_extent(m.shape(1), "the map");
    const int h = (int)m.shape(0), w = (int)m.shape(1);
    halide_dimension_t dims[2] = {{0, w, 1}, {0, h, w}};
    return Map(const_cast<float *>(m.data()), 2, dims);
}

// A Halide buffer the runtime made, handed to NumPy without a copy: the array keeps it alive.
// Images come out (C, H, W), maps (H, W).
template <typename B>
Array to_numpy(B &&buf) {
    using Buf = std::decay_t<B>;
    auto *owner = new Buf(std::forward<B>(buf));
    nb::capsule keep(owner, [](void *p) noexcept { delete static_cast<Buf *>(p); });
    const int d = owner->dimensions();
    size_t shape[3];
    int64_t strides[3];
    for (int i = 0; i < d; i++) {  // Halide's dim 0 (x) is NumPy's last axis
        shape[d - 1 - i] = (size_t)owner->dim(i).extent();
        strides[d - 1 - i] = owner->dim(i).stride();
    }
    return Array(owner->data(), (size_t)d, shape, keep, strides);
}

BlurOptions blur_options(float std_devs, const std::string &boundary, const std::string &device,
                         const std::string &schedule) {
    BlurOptions o;
    o.std_devs = std_devs;
    o.boundary = parse_boundary(boundary);
    o.variant = {device, schedule};
    return o;
}

// The backward pipelines, CPU only (generators/mix_backward_generator.cpp).
void run(int rc, const char *what) { check(rc, what); }

// The adjoint of the blur, for d L / d x = blur^T(G). With zero padding each pass is a symmetric
// banded matrix, so the blur is its own adjoint. Clamp and mirror first extend the image, and the
// adjoint of an extension adds what fell outside back onto the pixel it was read from: G padded by
// the half-width R with zeros, blurred with zero padding (the full convolution's adjoint over the
// extended range), then each outside row and column folded onto its source.
int source_index(int p, int n, Boundary b) {
    if (b == Boundary::clamp) return std::min(std::max(p, 0), n - 1);
    // Halide's mirror_image: reflection about the edges with the edge repeated, period 2n.
    int m = p % (2 * n);
    if (m < 0) m += 2 * n;
    return m < n ? m : 2 * n - 1 - m;
}

void blur_adjoint(const Image &g, float sigma, const BlurOptions &opt, Image &out) {
    if (opt.boundary == Boundary::zero) return blur(g, sigma, opt, out);
    check_sigma(sigma, "sigma");
    check_std_devs(opt.std_devs);
    const int w = g.width(), h = g.height(), ch = g.channels(), r = half_width(sigma, opt.std_devs);
    const int pw = w + 2 * r, ph = h + 2 * r;
    Image padded(pw, ph, ch), spread(pw, ph, ch);
    padded.fill(0.f);
    for (int c = 0; c < ch; c++) {
        for (int y = 0; y < h; y++) std::memcpy(&padded(r, y + r, c), &g(0, y, c), sizeof(float) * w);
    }
    BlurOptions zero = opt;
    zero.boundary = Boundary::zero;
    blur(padded, sigma, zero, spread);
    std::vector<int> sx(pw), sy(ph);
    for (int p = 0; p < pw; p++) sx[p] = source_index(p - r, w, opt.boundary);
    for (int q = 0; q < ph; q++) sy[q] = source_index(q - r, h, opt.boundary);
    out.fill(0.f);
    for (int c = 0; c < ch; c++) {
        for (int q = 0; q < ph; q++) {
            const float *row = &spread(0, q, c);
            float *dst = &out(0, sy[q], c);
            for (int p = 0; p < pw; p++) dst[sx[p]] += row[p];
        }
    }
}

// A Python error raised in a callback during a fit (KeyboardInterrupt from Ctrl-C, or whatever
// the progress callable raised), kept until the fit has returned and then raised.
struct Callbacks {
    nb::object progress;  // None, or called (iteration, loss, sigma_min, sigma_max)
    std::optional<nb::python_error> error;
};

FitResult run_fit(const Image &source, const Image &target, FitOptions opt, const ScaleOptions *so,
                  Callbacks &cb) {
    // Asked between runs of iterations, with the GIL: Ctrl-C lands here (PyErr_CheckSignals runs
    // Python's SIGINT handler, which raises KeyboardInterrupt in the main thread).
    opt.should_stop = [&cb] {
        nb::gil_scoped_acquire gil;
        if (cb.error) return true;
        if (PyErr_CheckSignals() != 0) {
            cb.error.emplace();
            return true;
        }
        return false;
    };
    if (!cb.progress.is_none()) {
        opt.progress = [&cb](const FitProgress &p) {
            nb::gil_scoped_acquire gil;
            if (cb.error) return;
            try {
                cb.progress(p.iteration, p.loss, p.sigma_min, p.sigma_max);
            } catch (nb::python_error &e) {
                cb.error.emplace(std::move(e));
            }
        };
    }
    nb::gil_scoped_release release;
    return so ? fit_scales(source, target, opt, *so) : fit(source, target, opt);
}

}  // namespace

NB_MODULE(_core, m) {
    m.doc() = "blurmix's C++ runtime (internal; use the blurmix package)";
    m.attr("__version__") = BLURMIX_VERSION;

    nb::register_exception_translator([](const std::exception_ptr &p, void *) {
        try {
            std::rethrow_exception(p);
        } catch (const Error &e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        }
    });

    m.def("half_width", &half_width, nb::arg("sigma"), nb::arg("std_devs"),
          "The kernel's half-width max(1, ceil(std_devs * sigma)).");
    m.def("check_sigma", [](float sigma, const std::string &what) { check_sigma(sigma, what.c_str()); });
    m.def("check_blur_args", [](float sigma, float std_devs, const std::string &boundary) {
        check_sigma(sigma, "sigma");
        check_std_devs(std_devs);
        parse_boundary(boundary);
    });
    m.def("built_variants", [](const std::string &pipeline) {
        std::vector<std::pair<std::string, std::string>> out;
        for (const Variant &v : built_variants(pipeline)) out.emplace_back(v.device, v.schedule);
        return out;
    }, nb::arg("pipeline") = "blur");
    m.def("device_status", &device_status, nb::arg("device"),
          "Why a device cannot run pipelines here, or '' when it can.");
    m.def("set_num_threads", &halide_set_num_threads, nb::arg("n"),
          "Threads of Halide's pool (0: as many as cores); returns the previous number.");
    m.def("release_kept_images", [] {
        nb::gil_scoped_release release;
        release_kept_images();
    });

    // Image files through the runtime's readers and writers, as the blurmix command reads and
    // writes them (PNG of any depth and colour type, .npy; PNG written 8-bit, atomically).
    m.def("load_image", [](const std::string &path, bool linear, double max_megabytes) {
        ReadLimits limits;
        if (max_megabytes > 0) limits.max_bytes = (uint64_t)(max_megabytes * 1e6);
        Image img;
        {
            nb::gil_scoped_release release;
            img = load_image(path, limits);
            check_finite(img, path);
            if (linear && sniff_format(path) == FileFormat::png) srgb_to_linear(img);
        }
        return to_numpy(std::move(img));
    }, nb::arg("path"), nb::arg("linear") = false, nb::arg("max_megabytes") = 0.0,
       "The image at path (PNG or .npy, told by content) as planar float32 (C, H, W).");
    m.def("save_image", [](const std::string &path, const InPlanes &x, bool linear) {
        Image img = planes(x);
        nb::gil_scoped_release release;
        const bool png = path.size() >= 4 && path.compare(path.size() - 4, 4, ".png") == 0;
        if (!linear || !png) return save_image(path, img);
        Image encoded = img.copy();
        linear_to_srgb(encoded);
        save_image(path, encoded);
    }, nb::arg("path"), nb::arg("x"), nb::arg("linear") = false,
       "Writes planar float32 (C, H, W) to path (.png 8-bit or .npy), atomically.");

    // The runtime's check: its message names the first bad value's row, column and channel.
    m.def("check_finite", [](const InPlanes &x, const std::string &what) { check_finite(planes(x), what); });

    m.def("blur", [](const InPlanes &x, float sigma, float std_devs, const std::string &boundary,
                     const std::string &device, const std::string &schedule, const Planes &out) {
        check_same_shape(x, out, "blur output");
        BlurOptions opt = blur_options(std_devs, boundary, device, schedule);
        Image in = planes(x), o = planes(out);
        nb::gil_scoped_release release;
        blur(in, sigma, opt, o);
    });

    m.def("blur_with_derivative", [](const InPlanes &x, float sigma, float std_devs,
                                     const std::string &boundary, const Planes &out, const Planes &d_out) {
        check_same_shape(x, out, "blur output");
        check_same_shape(x, d_out, "blur derivative output");
        check_sigma(sigma, "sigma");
        check_std_devs(std_devs);
        const int b = (int)parse_boundary(boundary);
        // Straight into the caller's arrays.
        Image in = planes(x), o = planes(out), d = planes(d_out);
        nb::gil_scoped_release release;
        blurmix::blur_with_derivative(in, sigma, {std_devs, (Boundary)b}, o, d);
    });

    m.def("blur_adjoint", [](const InPlanes &g, float sigma, float std_devs, const std::string &boundary,
                             const Planes &out) {
        check_same_shape(g, out, "blur adjoint output");
        BlurOptions opt = blur_options(std_devs, boundary, "cpu", "manual");
        Image in = planes(g), o = planes(out);
        nb::gil_scoped_release release;
        blur_adjoint(in, sigma, opt, o);
    });

    m.def("mix", [](const InBatch &a, const InBatch &b, const InMaps &logits, const std::string &device,
                    const std::string &schedule, const Batch &out) {
        check_stack(a, "the image");
        check_same_shape(a, b, "mix");
        check_same_shape(a, out, "mix output");
        if (logits.shape(0) != a.shape(0)) throw Error("mix: one logit map per image is needed");
        const Variant v{device, schedule};
        nb::gil_scoped_release release;
        for (size_t n = 0; n < a.shape(0); n++) {
            Image o = item(out, n);
            mix(item(a, n), item(b, n), map_item(logits, n), v, o);
        }
    });

    m.def("logits_of", [](const InMap &weights) { return to_numpy(logits_of(map_of(weights))); });

    // The vector-Jacobian product of the mix: see backward_generator.cpp. d_sigmas (N, 2) is
    // filled when d_a and d_b (the blurs' sigma derivatives) are given.
    m.def("mix_backward", [](const InBatch &a, const InBatch &b, const InMaps &logits, const InBatch &grad,
                             std::optional<InBatch> d_a, std::optional<InBatch> d_b, const Batch &grad_a,
                             const Batch &grad_b, const Maps &d_logit, const Totals &d_logit_total,
                             std::optional<Pairs> d_sigmas) {
        check_stack(a, "the image");
        for (const InBatch *s : {&b, &grad}) check_same_shape(a, *s, "mix backward");
        check_same_shape(a, grad_a, "mix backward");
        check_same_shape(a, grad_b, "mix backward");
        const size_t count = a.shape(0), h = a.shape(2), w = a.shape(3);
        const bool sigmas = d_a.has_value();
        if (sigmas != d_b.has_value() || sigmas != d_sigmas.has_value()) {
            throw Error("mix backward: d_a, d_b and d_sigmas go together");
        }
        if (sigmas) {
            check_same_shape(a, *d_a, "mix backward");
            check_same_shape(a, *d_b, "mix backward");
            if (d_sigmas->shape(0) != count || d_sigmas->shape(1) != 2) throw Error("mix backward: d_sigmas is (N, 2)");
        }
        if (logits.shape(0) != count || d_logit.shape(0) != count || d_logit_total.shape(0) != count ||
            d_logit.shape(1) != h || d_logit.shape(2) != w) {
            throw Error("mix backward: one logit map per image is needed");
        }
        const bool global = logits.shape(1) == 1 && logits.shape(2) == 1;
        if (!global && (logits.shape(1) != h || logits.shape(2) != w)) {
            throw Error("mix backward: logit maps are " + std::to_string(logits.shape(2)) + "x" +
                        std::to_string(logits.shape(1)) + " but the images are " + std::to_string(w) + "x" +
                        std::to_string(h));
        }
        nb::gil_scoped_release release;
        for (size_t n = 0; n < count; n++) {
            Map l = map_item(logits, n);
            if (global) {  // one logit read by every pixel: zero strides
                halide_dimension_t dims[2] = {{0, (int)w, 0}, {0, (int)h, 0}};
                l = Map(l.data(), 2, dims);
            }
            halide_dimension_t md[2] = {{0, (int)w, 1}, {0, (int)h, (int)w}};
            Map dl(d_logit.data() + n * h * w, 2, md);
            Image ga = item(grad_a, n), gb = item(grad_b, n);
            auto total = Halide::Runtime::Buffer<double, 0>::make_scalar(d_logit_total.data() + n);
            if (sigmas) {
                auto ds_min = Halide::Runtime::Buffer<double, 0>::make_scalar(d_sigmas->data() + 2 * n);
                auto ds_max = Halide::Runtime::Buffer<double, 0>::make_scalar(d_sigmas->data() + 2 * n + 1);
                run(blurmix_mix_backward_sigmas_cpu(item(a, n), item(b, n), l, item(grad, n), item(*d_a, n),
                                                    item(*d_b, n), ga, gb, dl, total, ds_min, ds_max),
                    "mix backward");
            } else {
                run(blurmix_mix_backward_cpu(item(a, n), item(b, n), l, item(grad, n), ga, gb, dl, total),
                    "mix backward");
            }
        }
    }, nb::arg("a"), nb::arg("b"), nb::arg("logits"), nb::arg("grad"), nb::arg("d_a").none(),
       nb::arg("d_b").none(), nb::arg("grad_a"), nb::arg("grad_b"), nb::arg("d_logit"), nb::arg("d_logit_total"),
       nb::arg("d_sigmas").none());

    // Sum of a * b over each item, in double: out (N,).
    m.def("inner_product", [](const InBatch &a, const InBatch &b, const Totals &out) {
        check_stack(a, "the image");
        check_same_shape(a, b, "inner product");
        if (out.shape(0) != a.shape(0)) throw Error("inner product: out is (N,)");
        nb::gil_scoped_release release;
        for (size_t n = 0; n < a.shape(0); n++) {
            auto t = Halide::Runtime::Buffer<double, 0>::make_scalar(out.data() + n);
            run(blurmix_inner_product_cpu(item(a, n), item(b, n), t), "inner product");
        }
    });

    m.def("local_blur", [](const InBatch &x, const InMap &sigma, float std_devs, const std::string &boundary) {
        check_stack(x, "the image");
        if (x.shape(0) != 1) throw Error("local_blur takes one image");
        BlurOptions opt = blur_options(std_devs, boundary, "cpu", "manual");
        Image in = item(x, 0);
        Map s = map_of(sigma);
        Image out;
        {
            nb::gil_scoped_release release;
            out = local_blur(in, s, opt);
        }
        return to_numpy(std::move(out));
    });

    m.def("scale_blur", [](const InBatch &x, const InMap &sigma, int scales, const std::string &spacing,
                           float std_devs, const std::string &boundary) {
        check_stack(x, "the image");
        if (x.shape(0) != 1) throw Error("scale_blur takes one image");
        BlurOptions opt = blur_options(std_devs, boundary, "cpu", "manual");
        const Spacing sp = parse_spacing(spacing);
        Image in = item(x, 0);
        Map s = map_of(sigma);
        Image out;
        {
            nb::gil_scoped_release release;
            out = scale_blur(in, s, scales, sp, opt);
        }
        return to_numpy(std::move(out));
    });

    // The fit: a min/max fit, or a K-scale one when scales >= 2. Returns a dict of the result's
    // fields (the package makes its FitResult of it).
    m.def("fit", [](const InBatch &source, const InBatch &target, const std::string &mode, float sigma_min,
                    float sigma_max, int iters, float lr, bool learn_sigmas, float std_devs,
                    const std::string &boundary, const std::string &device, const std::string &schedule,
                    int report_every, std::vector<int> loss_at, bool fused, nb::object progress, int scales,
                    const std::string &spacing, float smooth, const std::string &smooth_kind, int smooth_iters) {
        check_stack(source, "source");
        check_stack(target, "target");
        if (source.shape(0) != 1 || target.shape(0) != 1) throw Error("fit takes one source and one target");
        FitOptions opt;
        opt.mode = parse_mode(mode);
        opt.sigma_min = sigma_min;
        opt.sigma_max = sigma_max;
        opt.iters = iters;
        opt.adamax.lr = lr;
        opt.learn_sigmas = learn_sigmas;
        opt.blur = blur_options(std_devs, boundary, device, schedule);
        opt.report_every = report_every;
        opt.loss_at = std::move(loss_at);
        opt.fused = fused;
        std::optional<ScaleOptions> so;
        if (scales >= 2 || smooth > 0.f) {  // as the CLI's --scales / --smooth
            so.emplace();
            so->scales = scales >= 2 ? scales : 2;
            so->spacing = parse_spacing(spacing);
            so->smooth = {smooth > 0.f ? parse_penalty(smooth_kind) : Penalty::none, smooth};
            so->smooth_iters = smooth_iters;
        } else if (scales != 0) {
            throw Error("scales must be from 2 to 64, not " + std::to_string(scales));
        }
        Image src = item(source, 0), tgt = item(target, 0);
        check_fit_inputs(src, tgt, opt);
        if (so) check_scale_options(opt, *so);
        Callbacks cb{progress, std::nullopt};
        FitResult r = run_fit(src, tgt, opt, so ? &*so : nullptr, cb);
        if (cb.error) throw std::move(*cb.error);
        nb::dict d;
        d["logits"] = r.logits.data() ? nb::cast(to_numpy(std::move(r.logits))) : nb::none();
        d["weights"] = r.weights.data() ? nb::cast(to_numpy(std::move(r.weights))) : nb::none();
        d["params"] = r.params.data() ? nb::cast(to_numpy(std::move(r.params))) : nb::none();
        d["sigma"] = to_numpy(std::move(r.sigma));
        d["fitted"] = to_numpy(std::move(r.fitted));
        nb::dict losses;
        for (const LossPoint &p : r.losses) losses[nb::int_(p.iteration)] = p.loss;
        d["losses"] = losses;
        d["sigma_min"] = r.sigma_min;
        d["sigma_max"] = r.sigma_max;
        d["iterations"] = r.iterations;
        d["seconds"] = r.seconds;
        if (so) d["scale_sigmas"] = scale_sigmas(sigma_min, sigma_max, so->scales, so->spacing);
        return d;
    }, nb::arg("source"), nb::arg("target"), nb::arg("mode"), nb::arg("sigma_min"), nb::arg("sigma_max"),
       nb::arg("iters"), nb::arg("lr"), nb::arg("learn_sigmas"), nb::arg("std_devs"), nb::arg("boundary"),
       nb::arg("device"), nb::arg("schedule"), nb::arg("report_every"), nb::arg("loss_at"), nb::arg("fused"),
       nb::arg("progress").none(), nb::arg("scales"), nb::arg("spacing"), nb::arg("smooth"),
       nb::arg("smooth_kind"), nb::arg("smooth_iters"));

    // One block of a tiled local fit (blurmix.dask.fit): the fused fit's pipelines (fit_moments,
    // then fit_steps over the runs ending at `ends`, then fit_maps), as runtime/fit.cpp runs them on
    // a whole image, with the whole image's 1/N given: each pixel's trajectory is then the one it
    // has in the whole-image fit. a and b are the block's blurs, (1, C, H, W). Returns the logits,
    // weights and sigma maps (H, W).
    m.def("fit_local_block", [](const InBatch &a, const InBatch &b, const InBatch &target, std::vector<int> ends,
                                float lr, float beta1, float beta2, float eps, float inv_n, float sigma_min,
                                float sigma_max) {
        check_stack(a, "a");
        check_same_shape(a, b, "fit block");
        check_same_shape(a, target, "fit block");
        Image ia = item(a, 0), ib = item(b, 0), itarget = item(target, 0);
        const int w = ia.width(), h = ia.height();
        Image moments(w, h, 3), state(w, h, 3), next(w, h, 3);
        Map logits(w, h), weights(w, h), sigma(w, h);
        {
            nb::gil_scoped_release release;
            Halide::Runtime::Buffer<double, 1> totals(3);
            run(blurmix_fit_moments_cpu_manual(ia, ib, itarget, moments, totals), "fit moments");
            state.fill(0.f);
            auto loss = Halide::Runtime::Buffer<float, 0>::make_scalar();
            int first = 0;
            for (int end : ends) {
                if (end <= first) throw Error("fit block: the runs' ends must increase");
                run(blurmix_fit_steps_cpu_manual(moments, state, first, end - first, lr, beta1, beta2, eps, inv_n,
                                                 next, loss),
                    "fit steps");
                std::swap(state, next);
                first = end;
            }
            logits.copy_from(state.sliced(2, 0));
            run(blurmix_fit_maps_cpu_manual(logits, sigma_min, sigma_max, weights, sigma), "fit maps");
        }
        return nb::make_tuple(to_numpy(std::move(logits)), to_numpy(std::move(weights)), to_numpy(std::move(sigma)));
    });

    // For the benchmark: seconds per blur of one image, timed in C++ around the runtime call
    // alone (the best of `samples` runs of `reps` calls), so that Python's share can be told apart.
    m.def("time_blur", [](const InPlanes &x, float sigma, int reps, int samples) {
        Image in = planes(x), out(in.width(), in.height(), in.channels());
        BlurOptions opt;
        nb::gil_scoped_release release;
        double best = 1e30;
        for (int s = 0; s < samples; s++) {
            auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < reps; i++) blur(in, sigma, opt, out);
            best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
        }
        return best;
    });
}
