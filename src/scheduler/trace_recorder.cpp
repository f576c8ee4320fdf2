#include "scheduler/trace_recorder.hpp"

namespace corun::scheduler {

const char* frame_outcome_name(FrameOutcome outcome) {
    switch (outcome) {
        case FrameOutcome::PENDING:
            return "pending";
        case FrameOutcome::COMPLETED:
            return "completed";
        case FrameOutcome::REFUSED:
            return "refused-predicted-late";
        case FrameOutcome::DROPPED:
            return "dropped-late-in-queue";
        case FrameOutcome::CANCELLED:
            return "cancelled";
    }
    return "unknown";
}

Status TraceRecorder::start(const RecordingOptions& options, TimePoint now,
                            int64_t origin_steady_ns, std::vector<RecordedDevice> devices) {
    if (on_) {
        return Status(StatusCode::INVALID_OPERATION,
                      "this device group is already being recorded; wait until that recording "
                      "ends (one trace at a time)");
    }
    if (options.max_events == 0 || options.max_events > MAX_RECORDING_EVENTS) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "a recording holds 1.." + std::to_string(MAX_RECORDING_EVENTS) +
                          " events, asked for " + std::to_string(options.max_events));
    }
    recording_data_ = SchedulerRecording{};
    recording_data_.origin_steady_ns = origin_steady_ns;
    recording_data_.started = now;
    recording_data_.devices = std::move(devices);
    recording_data_.max_events = options.max_events;
    events_ = 0;
    first_frame_id_ = next_frame_id_;
    ++recording_;
    on_ = true;
    return Status::ok();
}

SchedulerRecording TraceRecorder::stop(TimePoint now) {
    if (!on_) return {};
    on_ = false;
    recording_data_.stopped = now;
    SchedulerRecording done = std::move(recording_data_);
    recording_data_ = SchedulerRecording{};
    return done;
}

bool TraceRecorder::admit_event() {
    if (events_ >= recording_data_.max_events) {
        ++recording_data_.dropped_events;
        return false;
    }
    ++events_;
    return true;
}

RecordedFrame* TraceRecorder::frame(uint64_t frame_id) {
    if (!on_ || frame_id < first_frame_id_) return nullptr;
    const uint64_t index = frame_id - first_frame_id_;
    if (index >= recording_data_.frames.size()) return nullptr;
    return &recording_data_.frames[index];
}

void TraceRecorder::name_model(uint64_t model_id, const std::string& name) {
    if (on_) recording_data_.model_names[model_id] = name;
}

void TraceRecorder::queue_depth(TimePoint now, uint64_t model_id, uint32_t frames_queued) {
    if (!on_ || !admit_event()) return;
    recording_data_.queue_depths.push_back({now, model_id, frames_queued});
}

uint64_t TraceRecorder::frame_submitted(TimePoint now, uint64_t model_id, uint32_t frames) {
    // Frame ids stay dense within a recording (frame() indexes by them): one that is not kept
    // takes no id.
    if (!on_ || !admit_event()) return 0;
    RecordedFrame recorded;
    recorded.id = next_frame_id_++;
    recorded.model_id = model_id;
    recorded.frames = frames;
    recorded.submitted = now;
    recording_data_.frames.push_back(recorded);
    return recorded.id;
}

void TraceRecorder::frame_refused(TimePoint now, uint64_t model_id, uint32_t frames) {
    RecordedFrame* recorded = frame(frame_submitted(now, model_id, frames));
    if (recorded == nullptr) return;
    recorded->ended = now;
    recorded->outcome = FrameOutcome::REFUSED;
}

void TraceRecorder::frame_ran(uint64_t frame_id, TimePoint started, TimePoint ended,
                              const RecordedBurstRef& burst) {
    RecordedFrame* recorded = frame(frame_id);
    if (recorded == nullptr) return;
    if (burst.recording == recording_) recorded->burst = static_cast<int64_t>(burst.index);
    recorded->started = started;
    recorded->ended = ended;
    recorded->outcome = FrameOutcome::COMPLETED;
}

void TraceRecorder::frame_cancelled(uint64_t frame_id, TimePoint now, FrameOutcome outcome) {
    RecordedFrame* recorded = frame(frame_id);
    if (recorded == nullptr) return;
    recorded->ended = now;
    recorded->outcome = outcome;
}

RecordedBurstRef TraceRecorder::burst_dispatched(const RecordedBurst& burst) {
    if (!on_ || !admit_event()) return {};
    recording_data_.bursts.push_back(burst);
    recording_data_.bursts.back().end = NOT_ENDED;
    return {recording_, recording_data_.bursts.size() - 1};
}

void TraceRecorder::burst_ended(const RecordedBurstRef& ref, TimePoint end) {
    if (!on_ || ref.recording != recording_) return;
    recording_data_.bursts[ref.index].end = end;
}

}  // namespace corun::scheduler
