#include "protocol/lane_ring.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace corun::service {

void ring_doorbell_if_sleeping(std::atomic<uint32_t>& doorbell, std::atomic<uint32_t>& sleeping) {
    // seq_cst, after the head's seq_cst store: see "Wake-ups" in the header.
    if (sleeping.load(std::memory_order_seq_cst) == 0) return;
    doorbell.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(doorbell);
}

Expected<v1::InferRequest> decode_lane_ring_submission(const LaneRingSubmission& entry,
                                                       uint32_t expected) {
    const std::string job = "lane-ring entry of job " + std::to_string(entry.job_id);
    if (entry.sequence != expected) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      job + " carries sequence number " + std::to_string(entry.sequence) +
                          " where the ring's order gives " + std::to_string(expected) +
                          "; write the whole entry, then publish it by advancing "
                          "submission_head (a torn or misplaced entry is refused)");
    }
    const uint64_t per_frame = uint64_t{entry.inputs_per_frame} + entry.outputs_per_frame;
    const uint64_t references = per_frame * entry.frame_count;  // < 2^64: each factor < 2^33
    if (entry.frame_count == 0 || entry.inputs_per_frame == 0 || entry.outputs_per_frame == 0 ||
        references > LANE_RING_MAX_REFERENCES) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      job + " has " + std::to_string(entry.frame_count) + " frame(s) of " +
                          std::to_string(entry.inputs_per_frame) + " input and " +
                          std::to_string(entry.outputs_per_frame) +
                          " output references; an entry has at least one frame, each with at "
                          "least one of each, and at most " +
                          std::to_string(LANE_RING_MAX_REFERENCES) +
                          " references in all (send larger jobs on the Session stream)");
    }
    v1::InferRequest decoded;
    decoded.set_job_id(entry.job_id);
    decoded.set_model_id(entry.model_id);
    size_t index = 0;
    for (uint32_t f = 0; f < entry.frame_count; ++f) {
        v1::FrameRefs& frame = *decoded.add_frames();
        for (uint64_t r = 0; r < per_frame; ++r) {
            const FastLaneReference& from = entry.references[index++];
            v1::BufferRef& to =
                r < entry.inputs_per_frame ? *frame.add_inputs() : *frame.add_outputs();
            to.set_buffer_id(from.buffer_id);
            to.set_offset(from.offset);
            to.set_size(from.size);
        }
    }
    return decoded;
}

void write_lane_ring_completion(LaneRingCompletion& entry, uint32_t sequence,
                                const v1::Completion& completion) {
    entry.sequence = sequence;
    entry.job_id = completion.job_id();
    entry.status_code = static_cast<int32_t>(completion.status().code());
    const std::string& message = completion.status().message();
    entry.message_size =
        static_cast<uint32_t>(std::min<size_t>(message.size(), LANE_RING_MESSAGE_BYTES));
    std::memcpy(entry.message, message.data(), entry.message_size);
    entry.queue_ns = completion.queue_ns();
    entry.device_ns = completion.device_ns();
}

v1::Completion read_lane_ring_completion(const LaneRingCompletion& entry) {
    v1::Completion completion;
    completion.set_job_id(entry.job_id);
    completion.mutable_status()->set_code(entry.status_code);
    completion.mutable_status()->set_message(std::string(
        entry.message, std::min<uint32_t>(entry.message_size, LANE_RING_MESSAGE_BYTES)));
    completion.set_queue_ns(entry.queue_ns);
    completion.set_device_ns(entry.device_ns);
    return completion;
}

}  // namespace corun::service
