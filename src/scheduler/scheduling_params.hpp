// The knobs of one configured model, with HailoRT's meaning, and the per-group policy switches
// that corun adds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "corun/status.hpp"

namespace corun::scheduler {

constexpr uint8_t PRIORITY_MIN = 0;
constexpr uint8_t PRIORITY_NORMAL = 16;
constexpr uint8_t PRIORITY_MAX = 31;

struct ModelSchedulingParams {
    uint8_t priority = PRIORITY_NORMAL;  // higher wins
    uint32_t threshold = 1;              // frames queued before the model is ready
    // A model with at least one frame becomes ready once its oldest frame waited this long.
    // 0 = no timeout: the model waits for its threshold.
    std::chrono::nanoseconds timeout{0};
    uint32_t burst = 1;  // frames run before the scheduler may switch to another model
    // Each frame's deadline is its queueing time plus this (0 = no SLO). Within a priority
    // level, frames with a deadline run earliest deadline first, and a frame predicted to
    // finish after its deadline is refused (docs/SCHEDULER.md, "Deadlines").
    std::chrono::nanoseconds latency_slo{0};
};

// INVALID_ARGUMENT naming the range for a priority outside 0..31.
Status check_priority(uint32_t priority);
Status check_threshold(uint32_t threshold, uint32_t queue_size);

struct PolicyOptions {
    // Pick among ready models of the top priority by least device time used, instead of
    // round robin by turns (which gives every model the same number of frames).
    bool fair_device_time = true;
    // A waiting model gains one priority level per `aging_step` its oldest frame has waited,
    // so a low-priority model runs within (levels below the top) x aging_step plus one burst.
    // 0 disables aging (strict priority, as HailoRT).
    std::chrono::nanoseconds aging_step{std::chrono::milliseconds(250)};
    // Ignore priorities and thresholds: run frames in the order they arrived (the group was
    // created with SchedulingAlgorithm::NONE).
    bool arrival_order = false;
    // Fairness by device time: a model that sends a frame after it had nothing queued or
    // running for longer than this counts as waking from idle, and starts level with the
    // least-served busy model (idle time is not banked). Shorter gaps are a client sending its
    // next frame from the completion of its last: without this margin, whether it counted as
    // idle depended on whether its frame or the worker's accounting of the last burst came
    // first, and the same workload got either share (docs/ROUTER.md, "A race").
    std::chrono::nanoseconds idle_before_catch_up{std::chrono::milliseconds(2)};
    // A shared slot that frees with frames waiting holds its decision for up to this long after
    // a model's burst ended, for that model's next frame, when its client sends it from the
    // completion of its last (last time it came within this window) and it could win the slot
    // (no waiting model outranks it, none has a deadline). Such a client races the slot's
    // worker: which thread the OS runs first decided, frame by frame, whether its frame
    // competed, and fairness by device time held only when it won (measured on the cpu device:
    // in time 2-99% of completions depending on what ran beside; docs/SCHEDULER.md,
    // "Anticipation"). Its frames came 10-60 us after the end, 200 us at the 99th percentile.
    // 0: decide at once.
    std::chrono::nanoseconds anticipation{std::chrono::microseconds(250)};
};

}  // namespace corun::scheduler
