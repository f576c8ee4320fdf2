// The scheduler interface (after Triton's): the runtime registers configured models, enqueues
// their requests, and the scheduler decides which runs next on which device slot. Policies
// live in their own files.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/infer_request.hpp"
#include "scheduler/scheduler_recording.hpp"
#include "scheduler/scheduling_params.hpp"
#include "scheduler/scheduling_policy.hpp"

namespace corun::scheduler {

// One scheduling decision, for the monitor and profiler.
struct DecisionRecord {
    TimePoint time{0};
    size_t device_index = 0;
    uint64_t model_id = 0;
    uint32_t frames = 0;
    DecisionReason reason = DecisionReason::ROUND_ROBIN;
    ReadyReason ready = ReadyReason::THRESHOLD;
    uint8_t effective_priority = PRIORITY_NORMAL;
    std::vector<std::pair<uint64_t, uint32_t>> queue_depths;  // model id -> frames queued
    // The model whose running preemptible request lent its slot to this burst (it runs beside
    // that request, or inside it at a preemption point); 0 = dispatched on a free slot.
    uint64_t preempted_model = 0;
};
using DecisionSink = std::function<void(const DecisionRecord&)>;

// What became of a model's frames that had a deadline (docs/SCHEDULER.md, "Deadlines").
struct DeadlineCounters {
    uint64_t admitted = 0;
    uint64_t refused_predicted_late = 0;  // refused at admission
    uint64_t dropped_late_in_queue = 0;   // dropped before they ran: their prediction changed
    uint64_t finished_late = 0;           // admitted and ran, but completed after the deadline
    uint64_t finished_in_time = 0;
};

// Per-model counters, for run2, benchmark and the monitor.
struct ModelSchedulingStats {
    uint64_t model_id = 0;
    std::string name;
    ModelSchedulingParams params;
    uint64_t frames_done = 0;
    int64_t device_time_ns = 0;  // charged device time (aging-adjusted ledger excluded)
    uint64_t switches_in = 0;    // times a slot switched to this model from another
    uint32_t frames_queued = 0;
    uint32_t frames_running = 0;
    // The most bursts of other models dispatched while one of its frames waited (0 = never
    // overtaken).
    uint64_t max_overtaken_by = 0;
    // Times a preemptible request of this model paused at a preemption point for outranking
    // frames (yield_to_outranking).
    uint64_t preemptions = 0;
    std::vector<int64_t> recent_latency_ns;  // queue + execution of up to the last 128 requests
    DeadlineCounters deadlines;
    // The latency admission control predicts now for a frame of this model (queue ahead plus
    // its own execution, planned from the last 10 bursts); -1 before a burst was measured.
    int64_t predicted_latency_ns = -1;
};

class Scheduler {
public:
    virtual ~Scheduler() = default;
    virtual Status add_model(uint64_t model_id, const std::string& name,
                             const ModelSchedulingParams& params) = 0;
    // Takes effect on the next decision.
    virtual Status set_params(uint64_t model_id, const ModelSchedulingParams& params) = 0;
    virtual void remove_model(uint64_t model_id) = 0;
    // Takes the request; it will be run or cancelled exactly once. SHUTDOWN after stop(). A
    // request with a deadline (its own, or its model's latency SLO) that is predicted to finish
    // after it is cancelled at once with DEADLINE_EXCEEDED, and the call returns SUCCESS: the
    // request itself carries the answer, as every other way it can end.
    virtual Status enqueue(InferRequest request) = 0;
    // As enqueue, but when a device slot is free and the policy would pick this request now,
    // runs it on the calling thread and returns after it completed (for synchronous run()).
    virtual Status run_or_enqueue(InferRequest request) = 0;
    // Cancels (with `reason`) every queued, not yet running request of `model_id`.
    virtual size_t cancel_queued(uint64_t model_id, const Status& reason) = 0;
    // Requests queued or running.
    virtual size_t in_flight() const = 0;
    // The latency predicted for a frame of `model_id` queued now (what waits ahead of it under
    // the policy's order, plus its own execution); nullopt before a burst of it was measured.
    virtual std::optional<std::chrono::nanoseconds> predicted_latency(uint64_t model_id) const = 0;
    virtual std::vector<ModelSchedulingStats> stats() const = 0;
    // Called for every decision (from a worker thread; keep it short). nullptr stops tracing.
    virtual void set_decision_sink(DecisionSink sink) = 0;
    // Timelines (docs/TRACING.md): from start_recording until stop_recording the scheduler
    // records every burst it dispatches (one per decision, as the decision sink sees them),
    // every frame's submit, start and completion, and each queue's depth, up to
    // options.max_events. INVALID_OPERATION while a recording runs. Off, recording costs a
    // bool read under the scheduler's lock per frame and per burst.
    virtual Status start_recording(const RecordingOptions& options) = 0;
    // The recording so far, and recording stops; an empty one if none ran.
    virtual SchedulerRecording stop_recording() = 0;
    // Preemption points, for requests that run long and can pause (a generative model's prefill
    // chunks and decode steps; docs/GENAI.md). `outranked` is cheap (one atomic load) so that
    // a request may ask it often: true when a model of a priority above `priority` has frames
    // queued or running.
    virtual bool outranked(uint8_t priority) const = 0;
    // Called from inside a running request of `model_id` (on its thread, at a point where it
    // can pause): runs, on this thread and this request's slot of device `device_index`, the
    // bursts of models of a higher priority than the model's that are queued, then waits while
    // such frames still run on other slots. Returns the nanoseconds spent so (the request must
    // not charge them as its own device time). Returns at once when nothing outranks it.
    virtual int64_t yield_to_outranking(uint64_t model_id, size_t device_index) = 0;
    // Cancels what is queued with SHUTDOWN, waits for what runs, stops the workers.
    virtual void stop() = 0;
    // As stop(), but waits at most `limit` for what runs; workers still busy then are detached
    // and left to the process's end. For the exit handler: a callback that never returns must
    // not hang the process's exit.
    virtual void stop_within(std::chrono::nanoseconds limit) = 0;
};

}  // namespace corun::scheduler
