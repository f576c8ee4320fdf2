// Who gets the cores of the cpu device when it shares them automatically
// (CpuDeviceParams::execution_slots = 0; docs/SCHEDULER.md, "Sharing the CPU").
//
// A frame alone on the device may run on every core; frames that run at the same time run on
// one core each (a model gains little from a second core, so one inference per core is the most
// throughput). An urgent frame (a model above normal priority) gets the cores it will use at
// once: the frames running beside it give them up (all of them when it uses every core; when it
// uses one, only as many as free a core, the most recently started first), and frames that
// arrive while it runs wait for it. A frame on one core gives its core up by yielding: its
// thread runs at the least OS priority until the frame ends (thread_priority.hpp), and it goes
// on without losing work; while urgent frames come (one began within URGENT_LATELY), a frame
// that begins beside others yields from its start. A frame that cannot yield (on every core,
// whose pool threads are ONNX Runtime's, or where the process may not raise a thread's priority
// back) is stopped instead, and runs again from the start once the urgent frames it yielded to
// are done.
// Bounds that keep every frame moving: a frame is stopped at most MAX_STOPS times, and it waits
// only for the urgent frames that had started before it arrived.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include <sys/types.h>

namespace corun::devices::cpu {

class CoreArbiter {
public:
    // `yield_by_priority`: frames on one core yield to an urgent frame by OS priority (where the
    // process may raise their priority back: may_restore_thread_priority()); else they stop.
    explicit CoreArbiter(uint32_t cores, bool yield_by_priority = false)
        : cores_(cores < 1 ? 1 : cores), yield_by_priority_(yield_by_priority) {}

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
        // The thread running it (current_thread_id()), whose priority it yields by; 0: it
        // cannot yield, and an urgent frame stops it instead.
        pid_t thread = 0;
        // Yielding to urgent frames: its thread's nice value before. Under the lock.
        bool yielding = false;
        int nice_before = 0;
    };
    // Once: a frame that yielded runs beside the next urgent frame (measured with
    // sharing_bench, the urgent p95 then stayed 1.3x solo, a long frame's rerun being hit again
    // and again). A few: the urgent frame gets the cores, and the work lost stays bounded.
    static constexpr uint32_t MAX_STOPS = 4;
    // How long after an urgent frame began frames beside others still yield from their start:
    // long past a camera's frame interval, short enough that the others soon run at their own
    // priority again (a yielding frame yields to every other process too).
    static constexpr std::chrono::seconds URGENT_LATELY{2};

    // Waits, for a frame that is not urgent, until the urgent frames that had started are done
    // (and then yields from its start beside others while urgent frames come); an urgent frame
    // instead makes the running frames that hold the cores it wants yield or stop. Returns
    // whether other frames run beside this one (it should then take one core, not all).
    bool begin(Frame& frame);
    // A frame that begin() let have every core runs on `cores` (1: it measured faster on one).
    void set_cores(Frame& frame, uint32_t cores);
    // Returns true when the frame was stopped for an urgent one: it must run again (call begin
    // again first).
    bool end(Frame& frame);

    uint64_t frames_stopped() const;
    uint64_t frames_yielded() const;
    uint32_t frames_running() const;

private:
    // Cores in use by running frames that neither stopped nor yield (a frame on every core
    // counts all).
    uint32_t cores_in_use() const;
    // Lowers `frame`'s thread's priority; false if it cannot yield that way (then stop it).
    bool yield(Frame& frame);
    // Whether frames yield from their start: an urgent frame runs or began within URGENT_LATELY.
    bool urgent_lately() const;
    // Gives a yielding frame its thread's priority back.
    void stop_yielding(Frame& frame);

    const uint32_t cores_;
    const bool yield_by_priority_;
    mutable std::mutex mutex_;
    std::condition_variable urgent_finished_;
    std::vector<Frame*> running_;
    uint64_t urgent_started_ = 0;
    uint64_t urgent_done_ = 0;
    uint64_t frames_stopped_ = 0;
    uint64_t frames_yielded_ = 0;
    std::chrono::steady_clock::time_point last_urgent_;
};

}  // namespace corun::devices::cpu
