// Admission control for frames with a deadline: when would a frame queued now finish, given
// what runs, what waits ahead of it under the policy's order, and its own predicted execution?
// A frame predicted to finish after its deadline is refused at once (DEADLINE_EXCEEDED), so the
// caller can fall back or skip it instead of learning it too late. Pure, so the threaded
// scheduler and the virtual-time simulation admit exactly alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "corun/status.hpp"
#include "scheduler/scheduling_policy.hpp"

namespace corun::scheduler {

// One queued (not running) request as admission sees it.
struct PendingWork {
    uint64_t model_id = 0;
    uint8_t priority = PRIORITY_NORMAL;
    TimePoint deadline = NO_DEADLINE;
    int64_t predicted_ns = 0;  // its predicted execution (0 when its model was never measured)
};

struct AdmissionView {
    TimePoint now{0};
    // Per running burst on the slots this frame may use: predicted time left (>= 0).
    std::vector<int64_t> running_left_ns;
    std::vector<PendingWork> queued;
    uint32_t slots = 1;  // slots that work in parallel on what is ahead
};

struct FramePrediction {
    TimePoint start{0};   // when it is predicted to get a slot
    TimePoint finish{0};  // start + its own execution
    int64_t work_ahead_ns = 0;
};

// Whether `queued` runs before a new frame of `model_id` at `priority` with `deadline`: the
// same model's frames (first in, first out), a higher priority, or the same priority with a
// deadline no later (earliest deadline first; a frame without a deadline counts every frame
// of its level, the pessimistic reading of turn-taking).
bool runs_ahead(const PendingWork& queued, uint64_t model_id, uint8_t priority, TimePoint deadline);

FramePrediction predict_frame(const AdmissionView& view, uint64_t model_id, uint8_t priority,
                              TimePoint deadline, int64_t own_ns);

// Why a frame with a deadline did not run.
enum class DeadlineRefusal {
    PREDICTED_LATE,  // at admission: the prediction finishes after the deadline
    LATE_IN_QUEUE,   // at dispatch: its own execution from now ends after the deadline
};
const char* deadline_refusal_name(DeadlineRefusal refusal);

// DEADLINE_EXCEEDED naming the model, the reason, the predicted finish and the fix.
Status deadline_exceeded(const std::string& model_name, DeadlineRefusal refusal, TimePoint queued,
                         TimePoint deadline, TimePoint predicted_finish);

}  // namespace corun::scheduler
