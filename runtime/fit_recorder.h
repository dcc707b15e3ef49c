// Everything the fit loops (fit.cpp's and scales.cpp's) do around the iterations: when to stop,
// which iterations are recorded, the recording, and the loop over fused runs. Internal to the
// core library.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "fit.h"
#include "pipelines.h"

namespace blurmix {

struct FitRecorder {
    const FitOptions &opt;
    FitResult &r;
    bool stop(int it) const { return it > 0 && opt.should_stop && opt.should_stop(); }
    bool reported(int it) const {
        return it % opt.report_every == 0 || it == opt.iters - 1;
    }
    // The iterations whose loss a fused run reports: it is cut there.
    bool wanted(int it) const {
        auto has = [it](const std::vector<int> &v) { return std::find(v.begin(), v.end(), it) != v.end(); };
        return reported(it) || has(opt.snapshots) || has(opt.loss_at);
    }
    // Where a fused run from iteration it ends: at the next wanted iteration, or at limit.
    int run_end(int it, int limit) const {
        int end = it + 1;
        while (end < limit && !wanted(end)) end++;
        return end;
    }
    void record(int it, float loss, const Map &logits, float s_min, float s_max) {
        if (!std::isfinite(loss)) {
            throw Error("the fit diverged at iteration " + std::to_string(it) + " (loss " +
                        std::to_string(loss) + "); try a smaller lr");
        }
        r.losses.push_back({it, loss});
        for (int s : opt.snapshots) {
            if (s == it) r.snapshots.push_back({it, weights_of(logits)});
        }
        if (opt.progress && reported(it)) opt.progress({it, loss, s_min, s_max});
    }
    // The loop of a fused fit: runs of iterations [it, end), each cut at the next recorded
    // iteration or at limit(it), until opt.iters or a stop. run(it, end) computes the run from
    // state into next (state's plane 0 holds the parameter map) and returns the objective before
    // iteration it; next then becomes the state. sigma_min and sigma_max are what progress shows.
    template <typename Limit, typename Run>
    void run_fused(Image &state, Image &next, Limit limit, Run run, float sigma_min, float sigma_max) {
        for (int it = 0; it < opt.iters;) {
            if (stop(it)) break;
            const int end = run_end(it, limit(it));
            const float objective = run(it, end);
            if (wanted(it)) record(it, objective, state.sliced(2, 0), sigma_min, sigma_max);
            to_host(next);
            std::swap(state, next);
            r.iterations = it = end;
        }
    }
};

}  // namespace blurmix
