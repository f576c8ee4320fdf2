#include "router/fallback_log.hpp"

namespace corun::router {

std::optional<uint64_t> FallbackLog::admit(const std::string& placement, StatusCode reason,
                                           Clock::time_point now) {
    std::lock_guard lock(mutex_);
    LineKind& kind = kinds_[{placement, reason}];
    if (kind.written && now - kind.last_written < interval_) {
        ++kind.held_back;
        return std::nullopt;
    }
    const uint64_t held_back = kind.held_back;
    kind.written = true;
    kind.last_written = now;
    kind.held_back = 0;
    return held_back;
}

}  // namespace corun::router
