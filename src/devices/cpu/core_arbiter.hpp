// Who gets the cores of the cpu device when it shares them automatically
// (CpuDeviceParams::execution_slots = 0; docs/SCHEDULER.md, "Sharing the CPU").
//
// A frame alone on the device runs on every core; frames that run at the same time run on one
// core each (a model gains little from a second core, so one inference per core is the most
// throughput). An urgent frame (a model above normal priority) gets every core at once: it
// stops the frames running beside it, and frames that arrive while it runs wait for it. A
// stopped frame runs again from the start once the urgent frames it yielded to are done.
// Bounds that keep every frame moving: a frame is stopped at most MAX_STOPS times, and it waits
// only for the urgent frames that had started before it arrived.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace corun::devices::cpu {

class CoreArbiter {
public:
    // One frame on the device, from begin() to end(); it lives on its executing thread's stack.
    struct Frame {
        bool urgent = false;
        // Stops the running frame (ONNX Runtime's terminate flag); called under the lock.
        void (*stop)(void* context) = nullptr;
        void* context = nullptr;
        bool stopped = false;  // written under the lock: its result is void
        uint32_t times_stopped = 0;
    };
    // Once: a frame that yielded runs beside the next urgent frame (measured with
    // sharing_bench, the urgent p95 then stayed 1.3x solo, a long frame's rerun being hit again
    // and again). A few: the urgent frame gets the cores, and the work lost stays bounded.
    static constexpr uint32_t MAX_STOPS = 4;

    // Waits, for a frame that is not urgent, until the urgent frames that had started are done;
    // an urgent frame instead stops every running frame that may still be stopped. Returns
    // whether other frames run beside this one (it should then take one core, not all).
    bool begin(Frame& frame);
    // Returns true when the frame was stopped for an urgent one: it must run again (call begin
    // again first).
    bool end(Frame& frame);

    uint64_t frames_stopped() const;
    uint32_t frames_running() const;

private:
    mutable std::mutex mutex_;
    std::condition_variable urgent_finished_;
    std::vector<Frame*> running_;
    uint64_t urgent_started_ = 0;
    uint64_t urgent_done_ = 0;
    uint64_t frames_stopped_ = 0;
};

}  // namespace corun::devices::cpu
