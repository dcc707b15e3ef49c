#include "eval_report.h"

#include <cmath>

#include "colormap.h"

namespace blurmix {

namespace {

// Tiles for the panel, each in [0, 1]: images over the target's range, sigma maps over the
// stack's range, errors over [0, half the range].
Image tile(const Map &m, float lo, float hi) {
    Image out(m.width(), m.height(), 1);
    out.for_each_element([&](int x, int y, int) { out(x, y, 0) = (m(x, y) - lo) / (hi - lo); });
    return out;
}

// Grey or RGB as they are; other channel counts by their first channel.
Image tile(const Image &im, float lo, float hi) {
    const int channels = im.channels() == 3 ? 3 : 1;
    Image out(im.width(), im.height(), channels);
    out.for_each_element([&](int x, int y, int c) { out(x, y, c) = (im(x, y, c) - lo) / (hi - lo); });
    return out;
}

Map abs_error(const Map &a, const Map &truth) {
    Map e(a.width(), a.height());
    e.for_each_element([&](int x, int y) { e(x, y) = std::abs(a(x, y) - truth(x, y)); });
    return e;
}

// The pictures' names, in one place for the check before the work and for the writing.
const char *const kPanels[] = {"eval.png", "eval_sigma.png", "eval_error.png"};  // images, sigmas, errors
const char *const kTrueSigma = "sigma_true.png";

// A method's colour maps: what ("sigma" or "error") of the min/max mix (scales 0) or of a stack.
std::string map_name(const char *what, int scales) {
    return std::string(what) + "_" + (scales == 0 ? std::string("minmax") : "k" + std::to_string(scales)) + ".png";
}

}  // namespace

std::vector<std::string> eval_picture_names(const std::string &prefix, const std::vector<int> &scales) {
    std::vector<std::string> names;
    for (const char *panel : kPanels) names.push_back(prefix + panel);
    names.push_back(prefix + kTrueSigma);
    std::vector<int> methods = {0};
    methods.insert(methods.end(), scales.begin(), scales.end());
    for (int k : methods) {
        names.push_back(prefix + map_name("sigma", k));
        names.push_back(prefix + map_name("error", k));
    }
    return names;
}

void save_eval_pictures(const std::string &dir, const std::string &prefix, const Evaluation &ev, const Map &truth,
                        float s_min, float s_max) {
    float lo = ev.target(0, 0, 0), hi = lo;
    ev.target.for_each_value([&](float v) { lo = std::min(lo, v); hi = std::max(hi, v); });
    if (!(hi > lo)) hi = lo + 1;
    const float err_hi = (s_max - s_min) / 2;
    std::vector<std::pair<std::string, Image>> images = {{"true local blur", tile(ev.target, lo, hi)}};
    std::vector<std::pair<std::string, Image>> sigmas = {{"true sigma", tile(truth, s_min, s_max)}};
    std::vector<std::pair<std::string, Image>> errors;
    const std::string path = dir + "/" + prefix;
    save_colormap_png(path + kTrueSigma, truth, s_min, s_max, "true sigma");
    for (size_t i = 0; i < ev.methods.size(); i++) {
        const MethodReport &m = ev.methods[i];
        const int scales = i == 0 ? 0 : m.scales;  // the first is min/max (evaluate.h)
        images.push_back({m.name + " fit", tile(m.fit.fitted, lo, hi)});
        sigmas.push_back({m.name + " sigma", tile(m.fit.sigma, s_min, s_max)});
        Map err = abs_error(m.fit.sigma, truth);
        errors.push_back({m.name + " abs error", tile(err, 0.f, err_hi)});
        save_colormap_png(path + map_name("sigma", scales), m.fit.sigma, s_min, s_max, m.name + " sigma");
        save_colormap_png(path + map_name("error", scales), err, 0.f, err_hi, m.name + " abs sigma error");
    }
    // Three panels (images, sigma maps, errors): one strip of all of them would be too wide.
    save_panel_png(path + kPanels[0], images, 0.f, 1.f);
    save_panel_png(path + kPanels[1], sigmas, 0.f, 1.f);
    save_panel_png(path + kPanels[2], errors, 0.f, 1.f);
}

void print_eval_table(FILE *text, const Evaluation &ev) {
    const MethodReport &mm = ev.methods[0];
    std::fprintf(text, "true local blur: %.3f s\n", ev.target_seconds);
    std::fprintf(text, "%-8s %11s %9s %9s %9s %8s  %s\n", "method", "mse", "mm/mse", "sigma mae", "seconds",
                 "time/mm", "per region: true sigma -> mean recovered (mae)");
    for (const MethodReport &m : ev.methods) {
        std::fprintf(text, "%-8s %11.4g %9.3g %9.4f %9.3f %8.2f ", m.name.c_str(), m.mse, mm.mse / m.mse,
                     m.sigma_mae, m.fit.seconds, m.fit.seconds / mm.fit.seconds);
        for (const RegionError &r : m.regions) {
            if (std::isnan(r.sigma)) {
                std::fprintf(text, " all -> %.3f (%.3f)", r.mean, r.mae);
            } else {
                std::fprintf(text, " %.4g -> %.3f (%.3f)", r.sigma, r.mean, r.mae);
            }
        }
        std::fprintf(text, "\n");
    }
}

}  // namespace blurmix
