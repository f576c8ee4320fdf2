// Half precision <-> float32 in bulk (what a FLOAT32 binding of a float16 model costs per
// frame) against the scalar rules one value at a time, side by side in one run: medians of
// REPEATS passes over a 1x3x224x224 frame, and their ratio.
//   build/bench/half_conversion_bench [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common/half_precision.hpp"

namespace {

using Clock = std::chrono::steady_clock;

template <typename Pass>
double median_us(int repeats, Pass pass) {
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
        const auto start = Clock::now();
        pass();
        times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 201;
    const size_t count = 3 * 224 * 224;
    std::vector<float> floats(count);
    for (size_t i = 0; i < count; ++i) floats[i] = static_cast<float>(i % 1000) / 250.0f - 2.0f;
    std::vector<uint16_t> halves(count);
    std::vector<float> back(count);
    volatile uint16_t sink = 0;

    const double to_half_bulk = median_us(
        repeats, [&] { corun::common::floats_to_halves(floats.data(), halves.data(), count); });
    const double to_half_scalar = median_us(repeats, [&] {
        for (size_t i = 0; i < count; ++i) halves[i] = corun::common::float_to_half(floats[i]);
        sink = halves[count / 2];
    });
    const double to_float_bulk = median_us(
        repeats, [&] { corun::common::halves_to_floats(halves.data(), back.data(), count); });
    const double to_float_scalar = median_us(repeats, [&] {
        for (size_t i = 0; i < count; ++i) back[i] = corun::common::half_to_float(halves[i]);
        sink = static_cast<uint16_t>(back[count / 2]);
    });
    (void)sink;
    std::printf("half conversion of %zu values (1x3x224x224), median of %d passes\n", count,
                repeats);
    std::printf("  float32 -> float16: bulk %8.1f us, scalar %8.1f us, scalar/bulk %.2f\n",
                to_half_bulk, to_half_scalar, to_half_scalar / to_half_bulk);
    std::printf("  float16 -> float32: bulk %8.1f us, scalar %8.1f us, scalar/bulk %.2f\n",
                to_float_bulk, to_float_scalar, to_float_scalar / to_float_bulk);
    return 0;
}
