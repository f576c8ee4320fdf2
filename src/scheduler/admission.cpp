#include "scheduler/admission.hpp"

#include <cstdio>

namespace corun::scheduler {

bool runs_ahead(const PendingWork& queued, uint64_t model_id, uint8_t priority,
                TimePoint deadline) {
    if (queued.model_id == model_id) return true;
    if (queued.priority != priority) return queued.priority > priority;
    if (deadline == NO_DEADLINE) return true;
    return queued.deadline <= deadline;
}

FramePrediction predict_frame(const AdmissionView& view, uint64_t model_id, uint8_t priority,
                              TimePoint deadline, int64_t own_ns) {
    FramePrediction prediction;
    for (int64_t left : view.running_left_ns) prediction.work_ahead_ns += left;
    for (const PendingWork& queued : view.queued) {
        if (runs_ahead(queued, model_id, priority, deadline)) {
            prediction.work_ahead_ns += queued.predicted_ns;
        }
    }
    // With several slots, what is ahead drains in parallel; with one (an NPU, the cpu device's
    // default) this is exact for the work known now.
    const uint32_t slots = view.slots == 0 ? 1 : view.slots;
    prediction.start = view.now + TimePoint(prediction.work_ahead_ns / slots);
    prediction.finish = prediction.start + TimePoint(own_ns);
    return prediction;
}

const char* deadline_refusal_name(DeadlineRefusal refusal) {
    switch (refusal) {
        case DeadlineRefusal::PREDICTED_LATE:
            return "predicted-late";
        case DeadlineRefusal::LATE_IN_QUEUE:
            return "late-in-queue";
    }
    return "unknown";
}

namespace {
std::string milliseconds_text(TimePoint duration) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.2f ms", static_cast<double>(duration.count()) / 1e6);
    return text;
}
}  // namespace

Status deadline_exceeded(const std::string& model_name, DeadlineRefusal refusal, TimePoint queued,
                         TimePoint deadline, TimePoint predicted_finish) {
    const std::string when = refusal == DeadlineRefusal::PREDICTED_LATE ? "refused at admission"
                                                                        : "dropped before it ran";
    return Status(StatusCode::DEADLINE_EXCEEDED,
                  "a frame of '" + model_name + "' was " + when + " (" +
                      deadline_refusal_name(refusal) + "): predicted to finish " +
                      milliseconds_text(predicted_finish - queued) + " after it was queued, " +
                      milliseconds_text(predicted_finish - deadline) + " after its deadline (" +
                      milliseconds_text(deadline - queued) +
                      " from queueing); skip the frame, send it to another device, or raise the "
                      "SLO or lower the load");
}

}  // namespace corun::scheduler
