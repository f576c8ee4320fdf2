#include "devices/cpu/core_arbiter.hpp"

#include <algorithm>

namespace corun::devices::cpu {

bool CoreArbiter::begin(Frame& frame) {
    std::unique_lock lock(mutex_);
    frame.stopped = false;
    if (frame.urgent) {
        ++urgent_started_;
        for (Frame* other : running_) {
            if (other->urgent || other->stopped || other->times_stopped >= MAX_STOPS) continue;
            other->stopped = true;
            ++frames_stopped_;
            other->stop(other->context);
        }
    } else {
        // Only the urgent frames that started before this one arrived: urgent frames that
        // start later run beside it (or stop it, once), so a stream of urgent frames cannot
        // hold it back forever.
        const uint64_t ahead = urgent_started_;
        urgent_finished_.wait(lock, [&] { return urgent_done_ >= ahead; });
    }
    running_.push_back(&frame);
    return running_.size() > 1;
}

bool CoreArbiter::end(Frame& frame) {
    std::lock_guard lock(mutex_);
    running_.erase(std::find(running_.begin(), running_.end(), &frame));
    if (frame.urgent) {
        ++urgent_done_;
        urgent_finished_.notify_all();
    }
    if (frame.stopped) ++frame.times_stopped;
    return frame.stopped;
}

uint64_t CoreArbiter::frames_stopped() const {
    std::lock_guard lock(mutex_);
    return frames_stopped_;
}

uint32_t CoreArbiter::frames_running() const {
    std::lock_guard lock(mutex_);
    return static_cast<uint32_t>(running_.size());
}

}  // namespace corun::devices::cpu
