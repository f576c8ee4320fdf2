#include "devices/cpu/core_count_choice.hpp"

#include <algorithm>

namespace corun::devices::cpu {

int64_t CoreCountChoice::Times::median() const {
    // On the frame's path: a copy on the stack, no allocation.
    std::array<int64_t, WINDOW> sorted = recent;
    const size_t size = std::min(count, WINDOW);
    std::nth_element(sorted.begin(), sorted.begin() + size / 2, sorted.begin() + size);
    return sorted[size / 2];
}

bool CoreCountChoice::every_core_next() {
    std::lock_guard lock(mutex_);
    ++decisions_;
    if (every_core_.warmed < WARM_UP || every_core_.count < FIRST_TRIES) return true;
    if (one_core_.warmed < WARM_UP || one_core_.count < FIRST_TRIES) return false;
    const bool every_core_faster = every_core_.median() < one_core_.median();
    return decisions_ % PROBE_EVERY == 0 ? !every_core_faster : every_core_faster;
}

void CoreCountChoice::record(bool every_core, std::chrono::nanoseconds elapsed) {
    std::lock_guard lock(mutex_);
    Times& times = every_core ? every_core_ : one_core_;
    if (times.warmed < WARM_UP) {
        ++times.warmed;
        return;
    }
    times.recent[times.count % WINDOW] = elapsed.count();
    ++times.count;
}

}  // namespace corun::devices::cpu
