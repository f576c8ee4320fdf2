#include "scheduler/simulation_recording.hpp"

#include <algorithm>
#include <limits>

namespace corun::scheduler {
namespace {

// Each queue's depth after every change: +1 when a frame is queued, -1 when it starts or is
// dropped from the queue (a refused frame was never queued), as the threaded scheduler records
// it.
std::vector<QueueDepthSample> queue_depths_of(const std::vector<SimulatedFrame>& frames,
                                              size_t model_count) {
    struct Change {
        TimePoint time;
        size_t model;
        int delta;
    };
    std::vector<Change> changes;
    for (const SimulatedFrame& frame : frames) {
        if (frame.outcome == FrameOutcome::REFUSED) continue;
        changes.push_back({frame.queued, frame.model, +1});
        if (frame.started != NOT_ENDED) {
            changes.push_back({frame.started, frame.model, -1});
        } else if (frame.outcome == FrameOutcome::DROPPED) {
            changes.push_back({frame.ended, frame.model, -1});
        }
    }
    // By time only, keeping the order they were added in at one instant: frames in the order
    // they reached the scheduler, each queued before it starts, so no depth goes below zero.
    std::stable_sort(changes.begin(), changes.end(),
                     [](const Change& a, const Change& b) { return a.time < b.time; });
    std::vector<uint32_t> depth(model_count, 0);
    std::vector<QueueDepthSample> samples;
    samples.reserve(changes.size());
    for (const Change& change : changes) {
        depth[change.model] =
            static_cast<uint32_t>(static_cast<int>(depth[change.model]) + change.delta);
        samples.push_back({change.time, change.model + 1, depth[change.model]});
    }
    return samples;
}

}  // namespace

SchedulerRecording recording_of_simulation(const SimulationResult& result,
                                           const std::vector<SimulatedModel>& models,
                                           const SimulatedDevice& device) {
    SchedulerRecording recording;
    recording.started = TimePoint(0);
    recording.stopped = result.duration;
    const uint32_t shared_slots = std::max<uint32_t>(1, device.slots);
    recording.devices = {RecordedDevice{shared_slots, device.latency_slots}};
    for (size_t i = 0; i < models.size(); ++i) recording.model_names[i + 1] = models[i].name;
    recording.bursts.reserve(result.dispatches.size());
    for (const SimulatedDispatch& dispatch : result.dispatches) {
        RecordedBurst burst;
        burst.start = dispatch.start;
        burst.end = dispatch.end == DISPATCH_NEVER_ENDS || dispatch.end > result.duration
                        ? NOT_ENDED
                        : dispatch.end;
        burst.latency_slot = dispatch.slot >= shared_slots;
        burst.model_id = dispatch.model + 1;
        burst.frames = dispatch.frames;
        burst.reason = dispatch.reason;
        burst.ready = dispatch.ready;
        burst.effective_priority = models[dispatch.model].params.priority;
        recording.bursts.push_back(burst);
    }
    recording.frames.reserve(result.frames.size());
    for (size_t f = 0; f < result.frames.size(); ++f) {
        const SimulatedFrame& simulated = result.frames[f];
        RecordedFrame frame;
        frame.id = f + 1;
        frame.model_id = simulated.model + 1;
        frame.submitted = simulated.queued;
        frame.started = simulated.started;
        frame.ended = simulated.ended;
        frame.outcome = simulated.outcome;
        frame.burst = simulated.dispatch;
        recording.frames.push_back(frame);
    }
    recording.queue_depths = queue_depths_of(result.frames, models.size());
    return recording;
}

}  // namespace corun::scheduler
