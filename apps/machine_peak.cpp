#include "machine_peak.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "HalideRuntime.h"
#include "fixed_digits.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define BLURMIX_X86 1
#endif

namespace blurmix {

namespace {

double thread_seconds() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#ifdef BLURMIX_X86
// Adds per call of add_chain's loop body: 100 integer adds, each waiting for the one before (one a
// cycle on every x86 core since the Pentium Pro), so the chain runs at one add a cycle whatever the
// core's width; the loop's own counter runs beside it.
constexpr long kChainAdds = 100;

uint64_t add_chain(long iterations) {
    uint64_t x = 0;
    for (long i = 0; i < iterations; i++) asm volatile(".rept 100\n\tadd $1, %0\n\t.endr" : "+r"(x));
    return x;
}

// The clock of every core at once, in GHz: one thread a core runs the chain, timed by its own CPU
// time (so time spent descheduled does not count); per thread the best of several samples, then
// the median over threads.
double measure_ghz(int threads) {
    constexpr long kIterations = 200000;  // 2e7 adds: about 6 ms at 3.5 GHz
    constexpr int kSamples = 5;
    std::vector<double> ghz(threads);
    std::atomic<int> ready{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++) {
        pool.emplace_back([&, t] {
            ready++;
            while (ready.load() < threads) {
            }
            double best = 0;
            for (int s = 0; s < kSamples; s++) {
                double t0 = thread_seconds();
                volatile uint64_t sink = add_chain(kIterations);
                (void)sink;
                double dt = thread_seconds() - t0;
                if (dt > 0) best = std::max(best, kIterations * kChainAdds / dt / 1e9);
            }
            ghz[t] = best;
        });
    }
    for (std::thread &th : pool) th.join();
    std::sort(ghz.begin(), ghz.end());
    return ghz[ghz.size() / 2];
}

struct Cpu {
    std::string vendor;
    unsigned family = 0, model = 0;
};

Cpu cpu_id() {
    Cpu c;
    unsigned a, b, cx, d;
    if (!__get_cpuid(0, &a, &b, &cx, &d)) return c;
    char v[13] = {};
    std::memcpy(v, &b, 4);
    std::memcpy(v + 4, &d, 4);
    std::memcpy(v + 8, &cx, 4);
    c.vendor = v;
    if (__get_cpuid(1, &a, &b, &cx, &d)) {
        unsigned base = (a >> 8) & 0xf, ext = (a >> 20) & 0xff;
        c.family = base == 0xf ? base + ext : base;
        c.model = ((a >> 4) & 0xf) | (base == 0xf || base == 6 ? ((a >> 16) & 0xf) << 4 : 0);
    }
    return c;
}
#endif

std::string hex(unsigned v) {
    char s[16];
    std::snprintf(s, sizeof s, "%Xh", v);
    return s;
}

// pipes x lanes per core for the ISA found, from the vendors' published figures.
void set_pipes(MachinePeak &m) {
    const int isa_lanes = m.isa == "AVX-512" ? 16 : m.isa == "AVX2+FMA" ? 8 : 4;
    m.flops_per_lane = m.isa == "AVX-512" || m.isa == "AVX2+FMA" ? 2 : 1;
    m.pipes = 2;
    m.lanes = isa_lanes;
#ifdef BLURMIX_X86
    const Cpu c = cpu_id();
    if (c.vendor == "AuthenticAMD") {
        m.cpu = "AMD family " + hex(c.family) + " model " + hex(c.model);
        if (c.family == 0x17 && c.model < 0x30 && isa_lanes >= 8) {
            m.lanes = 4;
            m.assumption = "Zen 1: two 128-bit FMA pipes (AVX2 split in halves)";
        } else if (c.family == 0x17) {
            m.assumption = "Zen 2: two 256-bit FMA pipes";
        } else if (c.family == 0x19) {
            m.lanes = std::min(isa_lanes, 8);
            m.assumption = isa_lanes == 16 ? "Zen 4: AVX-512 runs on two 256-bit FMA pipes"
                                           : "Zen 3: two 256-bit FMA pipes";
        } else if (c.family == 0x1a) {
            m.assumption = "Zen 5: two FMA pipes as wide as the ISA (512-bit on desktop and server parts; "
                           "mobile parts have 256-bit pipes: half this)";
        } else {
            m.assumption = "fallback: two FMA pipes as wide as the ISA (AMD family not in the table)";
        }
    } else if (c.vendor == "GenuineIntel") {
        m.cpu = "Intel family " + hex(c.family) + " model " + hex(c.model);
        m.assumption = isa_lanes == 16 ? "two 512-bit FMA pipes (Xeon with two FMA units; parts with one have half)"
                                       : "two FMA pipes as wide as the ISA (Haswell and later)";
    } else {
        m.cpu = c.vendor.empty() ? "unknown x86" : c.vendor;
        m.assumption = "fallback: two FMA pipes as wide as the ISA (vendor not in the table)";
    }
#else
    m.cpu = "not x86";
    m.assumption = "fallback: two FMA pipes as wide as the ISA";
#endif
    if (m.flops_per_lane == 1) m.assumption += "; no FMA: one multiply and one add pipe";
}

}  // namespace

int halide_threads(std::string *from) {
    int n = halide_get_num_threads();
    cpu_set_t set;
    int allowed = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : n;
    if (from) {
        *from = "halide_get_num_threads()";
        if (allowed < n) *from += "; this process may run on only " + std::to_string(allowed) + " CPUs";
    }
    return n;
}

MachinePeak measure_machine_peak() {
    MachinePeak m;
#ifdef BLURMIX_X86
    m.isa = __builtin_cpu_supports("avx512f") ? "AVX-512"
            : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "AVX2+FMA"
            : "SSE";
#else
    m.isa = "unknown";
#endif
    set_pipes(m);
    m.cores = halide_threads(&m.cores_from);
#ifdef BLURMIX_X86
    m.ghz = measure_ghz(m.cores);
    m.clock_from = "measured: a chain of dependent integer adds (one a cycle) on every core at once, timed by "
                   "thread CPU time";
#else
    std::ifstream f("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
    double khz = 0;
    if (f >> khz && khz > 0) {
        m.ghz = khz / 1e6;
        m.clock_from = "cpufreq's cpuinfo_max_freq (not measured)";
    } else {
        m.clock_from = "unknown: no x86 add chain and no cpufreq";
    }
#endif
    return m;
}

std::string MachinePeak::describe() const {
    std::ostringstream s;
    s << "FMA peak: " << (ghz > 0 ? fixed_digits(gflops(), 0) + " GFLOP/s" : std::string("unknown")) << " = " << cores
      << " cores x " << fixed_digits(ghz, 2) << " GHz x " << pipes << " pipes x " << lanes << " lanes x " << flops_per_lane
      << " FLOPs\n"
      << "  ISA: " << isa << "; CPU: " << cpu << "; pipes x lanes: " << assumption << "\n"
      << "  cores: " << cores_from << "; clock: " << clock_from << "\n";
    return s.str();
}

}  // namespace blurmix
