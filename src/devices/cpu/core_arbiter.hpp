// Who gets the cores of the cpu device when it shares them automatically
// (CpuDeviceParams::execution_slots = 0; docs/SCHEDULER.md, "Sharing the CPU").
//
// A frame alone on the device may run on every core; frames that run at the same time run on
// one core each (a model gains little from a second core, so one inference per core is the most
// throughput). An urgent frame (a model above normal priority) gets the cores it will use at
// once: it stops frames running beside it (all of them when it uses every core; when it uses
// one, only as many as free a core, the most recently started first, so that the least work is
// lost), and frames that arrive while it runs wait for it. A stopped frame runs again from the
// start once the urgent frames it yielded to are done.
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
    explicit CoreArbiter(uint32_t cores) : cores_(cores < 1 ? 1 : cores) {}

    // One frame on the device, from begin() to end(); it lives on its executing thread's stack.
    struct Frame {
        bool urgent = false;
        // Stops the running frame (ONNX Runtime's terminate flag); called under the lock.
        void (*stop)(void* context) = nullptr;
        void* context = nullptr;
        bool stopped = false;  // written under the lock: its result is void
        uint32_t times_stopped = 0;
        // The cores it runs on: for an urgent frame, set before begin() (0: every core); for
        // the others, what begin() returned (1 beside others, else every core).
        uint32_t cores = 0;
        // No other frame ran beside it, from begin() to end() (frames it stopped aside): its
        // time is the model's time alone, as CoreCountChoice compares it. Written under the
        // lock; read once end() has returned.
        bool alone_throughout = false;
    };
    // Once: a frame that yielded runs beside the next urgent frame (measured with
    // sharing_bench, the urgent p95 then stayed 1.3x solo, a long frame's rerun being hit again
    // and again). A few: the urgent frame gets the cores, and the work lost stays bounded.
    static constexpr uint32_t MAX_STOPS = 4;

    // Waits, for a frame that is not urgent, until the urgent frames that had started are done;
    // an urgent frame instead stops every running frame that may still be stopped. Returns
    // whether other frames run beside this one (it should then take one core, not all).
    bool begin(Frame& frame);
    // A frame that begin() let have every core runs on `cores` (1: it measured faster on one).
    void set_cores(Frame& frame, uint32_t cores);
    // Returns true when the frame was stopped for an urgent one: it must run again (call begin
    // again first).
    bool end(Frame& frame);

    uint64_t frames_stopped() const;
    uint32_t frames_running() const;

private:
    // Cores in use by running frames that are not stopped (a frame on every core counts all).
    uint32_t cores_in_use() const;

    const uint32_t cores_;
    mutable std::mutex mutex_;
    std::condition_variable urgent_finished_;
    std::vector<Frame*> running_;
    uint64_t urgent_started_ = 0;
    uint64_t urgent_done_ = 0;
    uint64_t frames_stopped_ = 0;
};

}  // namespace corun::devices::cpu
