// libFuzzer target for the image readers: any input must load or throw
// blurmix::Error, never crash, leak or allocate past ReadLimits.
//
// Built by CMake with -DCMAKE_CXX_COMPILER=clang++ -DBLURMIX_FUZZ=ON; run by
// tests/fuzz/run.sh, or by hand: build-asan/bin/fuzz_load_image -max_len=4096 DIR
// tests/fuzz/corpus/fuzz_load_image
#include <unistd.h>

#include <cstdio>
#include <string>

#include "image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // The readers take paths, so every input goes through a real file.
    static const std::string path = "/tmp/blurmix-fuzz-" + std::to_string(getpid());
    static const struct Cleanup {
        ~Cleanup() { unlink(path.c_str()); }
    } cleanup;
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    // Small limits keep each run fast while still reaching the size checks.
    blurmix::ReadLimits limits;
    limits.max_width = limits.max_height = 1024;
    limits.max_bytes = 16 << 20;
    try {
        blurmix::Image img = blurmix::load_image(path, limits);
        blurmix::check_finite(img, path);
        blurmix::srgb_to_linear(img);
    } catch (const blurmix::Error &) {
    }
    return 0;
}
