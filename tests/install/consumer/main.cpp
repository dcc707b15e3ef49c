// Blurs an impulse with the installed library and checks the result against the normalized
// Gaussian taps computed here; then checks that a bad argument comes back as blurmix::Error.
#include <blurmix.h>

#include <cmath>
#include <cstdio>

int main() {
    const int n = 33, centre = 16;
    const float sigma = 2.5f;
    blurmix::Image impulse(n, n, 1);
    impulse.fill(0.f);
    impulse(centre, centre, 0) = 1.f;
    blurmix::Image out = blurmix::blur(impulse, sigma);

    const int r = blurmix::half_width(sigma, 2.f);
    double sum = 0;
    for (int t = -r; t <= r; t++) sum += std::exp(-t * t / (2.0 * sigma * sigma));
    double worst = 0;
    for (int y = 0; y < n; y++) {
        for (int x = 0; x < n; x++) {
            const int dx = x - centre, dy = y - centre;
            double want = 0;
            if (std::abs(dx) <= r && std::abs(dy) <= r) {
                want = std::exp(-dx * dx / (2.0 * sigma * sigma)) * std::exp(-dy * dy / (2.0 * sigma * sigma)) / (sum * sum);
            }
            worst = std::max(worst, std::abs(out(x, y, 0) - want));
        }
    }
    std::printf("consumer: blur of an impulse, max abs error %.3g (half-width %d)\n", worst, r);
    if (!(worst < 1e-6)) return 1;

    try {
        blurmix::blur(impulse, -1.f);
        std::printf("consumer: sigma -1 was not refused\n");
        return 1;
    } catch (const blurmix::Error &e) {
        std::printf("consumer: refused as expected: %s\n", e.what());
    }
    return 0;
}
