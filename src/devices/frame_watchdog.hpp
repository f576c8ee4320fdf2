// Bounds how long a device runs one frame. A device registers each frame it runs with a way to
// stop it (on cpu, ONNX Runtime's RunOptions::SetTerminate); one thread per process sleeps until
// the earliest deadline and stops the frames past theirs. The runtime also stops every running
// frame of one configured model at once (corund, when the model's client died or on SIGTERM),
// and every frame when the process exits.
// Header-only: the device layer's library has no source of its own for it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace corun::devices {

// Set once the frames of one owner (a configured model) must stop: those running then are
// stopped, and later ones are stopped as soon as they register. Never cleared.
struct FrameTermination {
    std::atomic<bool> requested{false};
};

// Why a watched frame was stopped.
enum class FrameStop { NONE, TIME_LIMIT, TERMINATED };

// One running frame. It lives on the stack of the device's execute() while it is watched, so
// watching allocates nothing.
struct WatchedFrame {
    std::chrono::steady_clock::time_point deadline;
    const FrameTermination* termination = nullptr;  // null: only the deadline stops it
    void (*stop)(void* context) = nullptr;          // called under the watchdog's lock
    void* context = nullptr;
    FrameStop stopped = FrameStop::NONE;  // written under the watchdog's lock
};

class FrameWatchdog {
public:
    // The process's watchdog. Never destroyed: frames may still run while the process exits.
    static FrameWatchdog& instance() {
        static FrameWatchdog* watchdog = new FrameWatchdog;
        return *watchdog;
    }

    // Watches `frame` until unwatch(). A frame whose owner was already terminated is stopped at
    // once (its device then sees ORT's terminate flag on its first node).
    void watch(WatchedFrame& frame) {
        std::unique_lock lock(mutex_);
        if (process_exiting_ || (frame.termination && frame.termination->requested.load())) {
            stop_locked(frame, FrameStop::TERMINATED);
        }
        frames_.push_back(&frame);
        // Only a deadline earlier than the one the thread sleeps until needs to wake it.
        if (frame.deadline < sleeping_until_) {
            sleeping_until_ = frame.deadline;
            lock.unlock();
            wake_.notify_one();
        }
    }

    // Stops watching; returns why the frame was stopped, if it was. After this the watchdog
    // never touches the frame again.
    FrameStop unwatch(WatchedFrame& frame) {
        std::lock_guard lock(mutex_);
        auto found = std::find(frames_.begin(), frames_.end(), &frame);
        if (found != frames_.end()) {
            *found = frames_.back();
            frames_.pop_back();
        }
        return frame.stopped;
    }

    // Marks `termination` requested and stops every watched frame that carries it.
    void terminate(FrameTermination& termination) {
        termination.requested.store(true);
        std::lock_guard lock(mutex_);
        for (WatchedFrame* frame : frames_) {
            if (frame->termination == &termination) stop_locked(*frame, FrameStop::TERMINATED);
        }
    }

    // The process exits: stops every watched frame, and every frame that starts from now on.
    void terminate_all() {
        std::lock_guard lock(mutex_);
        process_exiting_ = true;
        for (WatchedFrame* frame : frames_) stop_locked(*frame, FrameStop::TERMINATED);
    }

private:
    using Clock = std::chrono::steady_clock;

    FrameWatchdog() {
        std::thread([this] { watch_deadlines(); }).detach();
    }

    static void stop_locked(WatchedFrame& frame, FrameStop why) {
        if (frame.stopped != FrameStop::NONE) return;
        frame.stopped = why;
        frame.stop(frame.context);
    }

    void watch_deadlines() {
        std::unique_lock lock(mutex_);
        while (true) {
            const auto now = Clock::now();
            auto earliest = Clock::time_point::max();
            for (WatchedFrame* frame : frames_) {
                if (frame->stopped != FrameStop::NONE) continue;
                if (frame->deadline <= now) {
                    stop_locked(*frame, FrameStop::TIME_LIMIT);
                } else {
                    earliest = std::min(earliest, frame->deadline);
                }
            }
            sleeping_until_ = earliest;
            if (earliest == Clock::time_point::max()) {
                wake_.wait(lock);
            } else {
                wake_.wait_until(lock, earliest);
            }
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<WatchedFrame*> frames_;  // running frames: as many as execution slots
    Clock::time_point sleeping_until_ = Clock::time_point::max();
    bool process_exiting_ = false;
};

}  // namespace corun::devices
