#include "devices/cpu/core_arbiter.hpp"

#include <algorithm>

#include "devices/cpu/thread_priority.hpp"

namespace corun::devices::cpu {

bool CoreArbiter::begin(Frame& frame) {
    std::unique_lock lock(mutex_);
    frame.stopped = false;
    if (frame.urgent) {
        ++urgent_started_;
        last_urgent_ = std::chrono::steady_clock::now();
        const uint32_t wanted = frame.cores == 0 ? cores_ : std::min(frame.cores, cores_);
        // The most recently started first: they have done the least work.
        for (auto other = running_.rbegin(); other != running_.rend(); ++other) {
            if (cores_in_use() + wanted <= cores_) break;
            Frame& running = **other;
            if (running.urgent || running.stopped || running.yielding) continue;
            if (yield(running)) continue;
            if (running.times_stopped >= MAX_STOPS) continue;
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
    // While urgent frames come, a frame beside others yields from its start: the urgent frame's
    // threads then win the cores from their first instruction, its wake-up and its pool's
    // hand-offs included, not only once it has begun.
    if (!frame.urgent && beside_others && urgent_lately()) yield(frame);
    return beside_others;
}

void CoreArbiter::set_cores(Frame& frame, uint32_t cores) {
    std::lock_guard lock(mutex_);
    frame.cores = cores;
}

uint32_t CoreArbiter::cores_in_use() const {
    uint32_t in_use = 0;
    for (const Frame* running : running_) {
        if (!running->stopped && !running->yielding) {
            in_use += running->cores == 0 ? cores_ : running->cores;
        }
    }
    return in_use;
}

bool CoreArbiter::yield(Frame& frame) {
    // Only a frame whose whole run is on its own thread: one on every core also runs on its
    // pool's threads (as does a frame on one core whose one-core session is still being built,
    // which yields its own thread only).
    if (!yield_by_priority_ || frame.thread == 0 || frame.cores != 1) return false;
    const auto before = lower_thread_priority(frame.thread);
    if (!before) return false;
    frame.yielding = true;
    frame.nice_before = *before;
    ++frames_yielded_;
    return true;
}

bool CoreArbiter::urgent_lately() const {
    // The clock only where it can matter: a device that never saw an urgent frame reads none.
    if (!yield_by_priority_ || urgent_started_ == 0) return false;
    return urgent_started_ > urgent_done_ ||
           std::chrono::steady_clock::now() - last_urgent_ < URGENT_LATELY;
}

void CoreArbiter::stop_yielding(Frame& frame) {
    if (!frame.yielding) return;
    // Refused only if the process lost the privilege since: the thread then stays low.
    (void)restore_thread_priority(frame.thread, frame.nice_before);
    frame.yielding = false;
}

bool CoreArbiter::end(Frame& frame) {
    std::lock_guard lock(mutex_);
    running_.erase(std::find(running_.begin(), running_.end(), &frame));
    // Its thread may be the application's: never left at a lowered priority.
    stop_yielding(frame);
    if (frame.urgent) {
        ++urgent_done_;
        urgent_finished_.notify_all();
        // The frames that yielded go on yielding to their end: more urgent frames may come.
    }
    if (frame.stopped) ++frame.times_stopped;
    return frame.stopped;
}

uint64_t CoreArbiter::frames_stopped() const {
    std::lock_guard lock(mutex_);
    return frames_stopped_;
}

uint64_t CoreArbiter::frames_yielded() const {
    std::lock_guard lock(mutex_);
    return frames_yielded_;
}

uint32_t CoreArbiter::frames_running() const {
    std::lock_guard lock(mutex_);
    return static_cast<uint32_t>(running_.size());
}

}  // namespace corun::devices::cpu
