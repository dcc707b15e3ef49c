// Schedule choices shared by the generators. The algorithms live in algorithm.h; a generator's
// schedule part picks one of these by its `schedule` parameter, or leaves everything to the
// autoscheduler named at build time.
#pragma once

#include "Halide.h"

namespace blurmix {

using namespace Halide;

// naive: every Func at root, no vectorization or threads: the baseline that others are timed against.
// manual: the hand-written schedules below, CPU SIMD or GPU according to the target.
enum class Schedule { naive, manual };

inline const std::map<std::string, Schedule> schedule_names = {
    {"naive", Schedule::naive},
    {"manual", Schedule::manual},
};

// Estimates for the autoschedulers: a 1024x1024 image.
// One channel: autoscheduled tiles of c wider than an image's channel count are refused at run time
// (a grey image would fail a schedule tuned for RGB).
constexpr int kEstimateWidth = 1024, kEstimateHeight = 1024, kEstimateChannels = 1;

inline void compute_all_root(std::initializer_list<Func> funcs) {
    for (Func f : funcs) {
        f.compute_root();
    }
}

}  // namespace blurmix
