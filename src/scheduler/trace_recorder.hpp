// Records what a scheduler does while recording is on (SchedulerRecording), for timelines. The
// scheduler calls it with its own lock held, so it needs no lock of its own; while it is off,
// a scheduler asks it nothing but on(), a plain bool read under that lock, once per frame
// queued and once per burst.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "corun/status.hpp"
#include "scheduler/scheduler_recording.hpp"

namespace corun::scheduler {

// Where a burst was recorded, so that its end finds it (in the same recording only).
struct RecordedBurstRef {
    uint64_t recording = 0;  // 0 = not recorded
    size_t index = 0;
};

class TraceRecorder {
public:
    bool on() const { return on_; }

    // Starts a recording at `now` (the scheduler's clock). INVALID_OPERATION while one runs
    // (one recording at a time: a second client would cut the first one's short);
    // INVALID_ARGUMENT for max_events outside 1..MAX_RECORDING_EVENTS.
    Status start(const RecordingOptions& options, TimePoint now, int64_t origin_steady_ns,
                 std::vector<RecordedDevice> devices);
    // Ends the recording and hands it over; an empty one when none ran.
    SchedulerRecording stop(TimePoint now);

    void name_model(uint64_t model_id, const std::string& name);
    // A queue's depth after it changed.
    void queue_depth(TimePoint now, uint64_t model_id, uint32_t frames_queued);
    // A request queued: its id for the events that follow (0 = not recorded: the recording is
    // full, and later events of it are ignored).
    uint64_t frame_submitted(TimePoint now, uint64_t model_id, uint32_t frames);
    // A request refused at admission (it was never queued).
    void frame_refused(TimePoint now, uint64_t model_id, uint32_t frames);
    // `frame_id` 0, or of an earlier recording: ignored. It ran in burst `burst`.
    void frame_ran(uint64_t frame_id, TimePoint started, TimePoint ended,
                   const RecordedBurstRef& burst);
    void frame_cancelled(uint64_t frame_id, TimePoint now, FrameOutcome outcome);
    RecordedBurstRef burst_dispatched(const RecordedBurst& burst);
    void burst_ended(const RecordedBurstRef& ref, TimePoint end);

private:
    // Counts one event; false (and counted as dropped) when the recording is full.
    bool admit_event();
    RecordedFrame* frame(uint64_t frame_id);

    bool on_ = false;
    uint64_t recording_ = 0;  // this recording's number (RecordedBurstRef::recording)
    uint64_t next_frame_id_ = 1;
    uint64_t first_frame_id_ = 1;  // of this recording
    uint64_t events_ = 0;
    SchedulerRecording recording_data_;
};

}  // namespace corun::scheduler
