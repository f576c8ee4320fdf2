// The microseconds between two moments of a request, for its statistics (Triton's metrics count
// in microseconds); 0 when the clock went backwards between them.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace corun::serving {

inline uint64_t microseconds_between(std::chrono::steady_clock::time_point from,
                                     std::chrono::steady_clock::time_point to) {
    return static_cast<uint64_t>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(to - from).count()));
}

}  // namespace corun::serving
