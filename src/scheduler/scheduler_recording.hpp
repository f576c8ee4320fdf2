// What a scheduler recorded while recording was on (Scheduler::start_recording): every burst it
// dispatched with the reason of the decision, every frame's submit, start and completion, and
// each queue's depth whenever it changed. Plain values: the Chrome trace writer
// (runtime/monitor/chrome_trace_writer.hpp) turns them into a timeline.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "scheduler/scheduling_policy.hpp"

namespace corun::scheduler {

// What a recording may hold (bounded memory, whatever the frame rate).
struct RecordingOptions {
    // Bursts, frames and queue-depth samples together; past it, events are counted in
    // SchedulerRecording::dropped_events instead of kept.
    uint64_t max_events = 1'000'000;
};
constexpr uint64_t MAX_RECORDING_EVENTS = 50'000'000;  // about 4 GB of events

// One burst dispatched: its decision (the same fields as the DecisionRecord a decision sink
// gets for it) and when it ran.
struct RecordedBurst {
    TimePoint start{0};  // the decision's time; the burst runs from here
    TimePoint end{0};    // when its last request completed; NOT_ENDED if it still ran at the end
    size_t device_index = 0;
    // A latency slot, or a slot lent by a running preemptible request (`lent_by`), rather than
    // one of the device's shared slots.
    bool latency_slot = false;
    uint64_t lent_by = 0;  // DecisionRecord::preempted_model
    uint64_t model_id = 0;
    uint32_t frames = 0;
    DecisionReason reason = DecisionReason::ROUND_ROBIN;
    ReadyReason ready = ReadyReason::THRESHOLD;
    uint8_t effective_priority = PRIORITY_NORMAL;
};
constexpr TimePoint NOT_ENDED = TimePoint::min();

// How a recorded frame ended.
enum class FrameOutcome {
    PENDING,    // neither ran nor was cancelled before the recording stopped
    COMPLETED,  // ran
    REFUSED,    // refused at admission: predicted to finish after its deadline
    DROPPED,    // dropped from its queue: it could no longer meet its deadline
    CANCELLED,  // cancelled before it ran (its model shut down, the group stopped)
};
const char* frame_outcome_name(FrameOutcome outcome);

// One request (a job of `frames` frames) submitted while recording.
struct RecordedFrame {
    uint64_t id = 0;  // unique within the scheduler, in submit order
    uint64_t model_id = 0;
    uint32_t frames = 1;
    TimePoint submitted{0};
    TimePoint started = NOT_ENDED;  // start of its execution
    TimePoint ended = NOT_ENDED;    // completed or cancelled
    FrameOutcome outcome = FrameOutcome::PENDING;
    int64_t burst = -1;  // index in SchedulerRecording::bursts of the burst that ran it
};

struct QueueDepthSample {
    TimePoint time{0};
    uint64_t model_id = 0;
    uint32_t frames_queued = 0;
};

struct RecordedDevice {
    uint32_t shared_slots = 1;
    uint32_t latency_slots = 0;
};

struct SchedulerRecording {
    // The scheduler's clock origin on the steady clock (nanoseconds since its epoch): every
    // TimePoint here counts from it, so recordings of several schedulers line up.
    int64_t origin_steady_ns = 0;
    TimePoint started{0};
    TimePoint stopped{0};
    std::vector<RecordedDevice> devices;
    std::map<uint64_t, std::string> model_names;  // every model scheduled while recording
    std::vector<RecordedBurst> bursts;            // in dispatch order
    std::vector<RecordedFrame> frames;            // in submit order
    std::vector<QueueDepthSample> queue_depths;   // in time order
    uint64_t max_events = 0;
    uint64_t dropped_events = 0;  // not kept: the recording was full

    bool empty() const { return bursts.empty() && frames.empty() && queue_depths.empty(); }
};

}  // namespace corun::scheduler
