#include "halide_hooks.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>
#include <sys/mman.h>

#include "HalideBuffer.h"
#include "HalideRuntime.h"

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
// in a row (frames, a benchmark's repeats) allocate the same sizes again. The cap is 512 MiB, not
// 256: an 8192x8192 float plane is 256 MiB plus Buffer's header, which rounds up to 258 MiB, and a
// 256 MiB cap freed it at once, so that every blur of that size faulted in its output afresh
// (half the time of the sigma-1 blur at 8192x8192 in compare_schedules, 30 Nov 2026).
constexpr size_t kHuge = 2 << 20;
constexpr size_t kImagesKept = 512 << 20;
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

}  // namespace

void install_halide_hooks() {
    static std::once_flag once;
    std::call_once(once, [] {
        Halide::Runtime::Buffer<>::set_default_allocate_fn(image_malloc);
        Halide::Runtime::Buffer<>::set_default_deallocate_fn(image_free);
        halide_set_error_handler(record_halide_error);
        halide_set_custom_malloc(scratch_malloc);
        halide_set_custom_free(scratch_free);
    });
}

std::string take_halide_error(int rc) {
    std::lock_guard<std::mutex> lock(error_mutex);
    std::string msg = error_message.empty() ? "error code " + std::to_string(rc) : error_message;
    error_message.clear();
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return msg;
}

void release_kept_images() { release_kept(image_cache()); }

}  // namespace blurmix
