#include "scheduler/execution_time_window.hpp"

#include <algorithm>

namespace corun::scheduler {

int64_t ExecutionTimeWindow::Samples::largest() const {
    const size_t kept = std::min(count, nanoseconds.size());
    return *std::max_element(nanoseconds.begin(), nanoseconds.begin() + kept);
}

void ExecutionTimeWindow::record(uint32_t frames, int64_t nanoseconds) {
    if (frames == 0) return;
    Samples& samples = samples_[frames];
    samples.nanoseconds[samples.count++ % SIZE] = std::max<int64_t>(nanoseconds, 0);
}

std::optional<int64_t> ExecutionTimeWindow::predict(uint32_t frames) const {
    if (frames == 0) return 0;
    if (auto found = samples_.find(frames); found != samples_.end()) {
        return found->second.largest();
    }
    if (samples_.empty()) return std::nullopt;
    // No burst of this size yet: scale the slowest per-frame time seen (bursts amortise a
    // per-burst overhead, so this errs on the safe side for larger bursts).
    int64_t per_frame = 0;
    for (const auto& [size, samples] : samples_) {
        per_frame = std::max(per_frame, samples.largest() / size);
    }
    return per_frame * frames;
}

}  // namespace corun::scheduler
