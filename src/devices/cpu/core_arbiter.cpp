#include "devices/cpu/core_arbiter.hpp"

#include <algorithm>

namespace corun::devices::cpu {

bool CoreArbiter::begin(Frame& frame) {
    std::unique_lock lock(mutex_);
    frame.stopped = false;
    if (frame.urgent) {
        ++urgent_started_;
        const uint32_t wanted = frame.cores == 0 ? cores_ : std::min(frame.cores, cores_);
        // The most recently started first: they have done the least work.
        for (auto other = running_.rbegin(); other != running_.rend(); ++other) {
            if (cores_in_use() + wanted <= cores_) break;
            Frame& running = **other;
            if (running.urgent || running.stopped || running.times_stopped >= MAX_STOPS) continue;
            running.stopped = true;
            ++frames_stopped_;
            running.stop(running.context);
        }
    } else {
        // Only the urgent frames that started before this one arrived: urgent frames that
        // start later run beside it (or stop it, once), so a stream of urgent frames cannot
        // hold it back forever.
        const uint64_t ahead = urgent_started_;
        urgent_finished_.wait(lock, [&] { return urgent_done_ >= ahead; });
    }
    // Company for the frames already running, which no longer run alone throughout; this one
    // runs alone if the only others are stopped ones on their way out.
    frame.alone_throughout = true;
    for (Frame* running : running_) {
        if (running->stopped) continue;
        running->alone_throughout = false;
        frame.alone_throughout = false;
    }
    running_.push_back(&frame);
    const bool beside_others = running_.size() > 1;
    if (!frame.urgent) frame.cores = beside_others ? 1 : 0;
    return beside_others;
}

void CoreArbiter::set_cores(Frame& frame, uint32_t cores) {
    std::lock_guard lock(mutex_);
    frame.cores = cores;
}

uint32_t CoreArbiter::cores_in_use() const {
    uint32_t in_use = 0;
    for (const Frame* running : running_) {
        if (!running->stopped) in_use += running->cores == 0 ? cores_ : running->cores;
    }
    return in_use;
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
