// The machine's single-precision FMA peak, for the benchmarks' "% of FMA peak": the widest vector
// ISA the CPU has, its FMA pipes and lanes per core (a small table by vendor and family: the
// pipes cannot be read from the CPU), the cores Halide's thread pool uses, and the clock measured
// under load.
#pragma once

#include <string>

namespace blurmix {

struct MachinePeak {
    std::string isa;         // "AVX-512", "AVX2+FMA", "SSE" or "unknown"
    std::string cpu;         // vendor and family, e.g. "AMD family 19h (Zen 3/4)"
    int pipes = 0;           // FMA (or, without FMA, multiply + add) pipes per core
    int lanes = 0;           // float lanes each pipe handles per cycle
    int flops_per_lane = 0;  // 2 for an FMA, 1 for a plain multiply or add
    std::string assumption;  // where pipes x lanes come from
    int cores = 0;           // the threads Halide's pool runs
    std::string cores_from;  // how cores was found
    double ghz = 0;          // 0 when not known
    std::string clock_from;  // how the clock was found
    // cores x clock x pipes x lanes x FLOPs per lane; 0 when the clock is not known.
    double gflops() const { return cores * ghz * pipes * lanes * flops_per_lane; }
    // One line each: the figure and where each factor came from.
    std::string describe() const;
};

// Runs a short measurement (about 0.1 s on every core at once): call it after the timed work, so
// the clock is the loaded all-core clock, and not in the middle of a timing.
MachinePeak measure_machine_peak();

// The threads Halide's thread pool runs (halide_get_num_threads: HL_NUM_THREADS when set, else the
// online CPUs), with a note when this process may run on fewer CPUs (sched_getaffinity).
int halide_threads(std::string *from = nullptr);

}  // namespace blurmix
