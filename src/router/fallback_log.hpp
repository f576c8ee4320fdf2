// Rate limit for the router's per-frame log lines. Every frame that leaves a placement is worth a
// line saying why, but a saturated placement refuses thousands of frames a second: the first
// line of each placement and reason is written at once, the next after `interval`, and that one
// says how many were held back in between.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "corun/status.hpp"

namespace corun::router {

class FallbackLog {
public:
    using Clock = std::chrono::steady_clock;
    explicit FallbackLog(std::chrono::nanoseconds interval = std::chrono::seconds(1))
        : interval_(interval) {}

    // The lines held back since the last written one when this line is to be written, or
    // nullopt when it is held back.
    std::optional<uint64_t> admit(const std::string& placement, StatusCode reason,
                                  Clock::time_point now);

private:
    struct LineKind {
        Clock::time_point last_written{};
        uint64_t held_back = 0;
        bool written = false;
    };
    std::chrono::nanoseconds interval_;
    std::mutex mutex_;
    std::map<std::pair<std::string, StatusCode>, LineKind> kinds_;
};

}  // namespace corun::router
