#include "protocol/fast_lane.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace corun::service {

// Not FUTEX_PRIVATE_FLAG: the word lives in memory shared with another process.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, std::chrono::microseconds timeout) {
    const auto micros = timeout.count();
    timespec relative{static_cast<time_t>(micros / 1000000),
                      static_cast<long>(micros % 1000000) * 1000};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, expected, &relative, nullptr,
            0);
}

void futex_wake(std::atomic<uint32_t>& word) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

Expected<v1::InferRequest> decode_fast_lane_request(const FastLaneRequest& request) {
    const uint64_t references = uint64_t{request.input_count} + request.output_count;
    if (request.input_count == 0 || request.output_count == 0 ||
        references > FAST_LANE_MAX_REFERENCES) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "fast-lane request of job " + std::to_string(request.job_id) + " has " +
                          std::to_string(request.input_count) + " input and " +
                          std::to_string(request.output_count) +
                          " output references; a lane frame has at least one of each and at "
                          "most " +
                          std::to_string(FAST_LANE_MAX_REFERENCES) +
                          " in all (send larger frames on the Session stream)");
    }
    v1::InferRequest decoded;
    decoded.set_job_id(request.job_id);
    decoded.set_model_id(request.model_id);
    v1::FrameRefs& frame = *decoded.add_frames();
    for (uint32_t i = 0; i < references; ++i) {
        const FastLaneReference& from = request.references[i];
        v1::BufferRef& to = i < request.input_count ? *frame.add_inputs() : *frame.add_outputs();
        to.set_buffer_id(from.buffer_id);
        to.set_offset(from.offset);
        to.set_size(from.size);
    }
    return decoded;
}

void publish_fast_lane_completion(FastLane& lane, const v1::Completion& completion) {
    FastLaneCompletion& out = lane.completion;
    out.job_id = completion.job_id();
    out.status_code = static_cast<int32_t>(completion.status().code());
    const std::string& message = completion.status().message();
    out.message_size =
        static_cast<uint32_t>(std::min<size_t>(message.size(), FAST_LANE_MESSAGE_BYTES));
    std::memcpy(out.message, message.data(), out.message_size);
    out.queue_ns = completion.queue_ns();
    out.device_ns = completion.device_ns();
    lane.completion_sequence.fetch_add(1, std::memory_order_release);
    futex_wake(lane.completion_sequence);
}

v1::Completion read_fast_lane_completion(const FastLane& lane) {
    const FastLaneCompletion& in = lane.completion;
    v1::Completion completion;
    completion.set_job_id(in.job_id);
    completion.mutable_status()->set_code(in.status_code);
    completion.mutable_status()->set_message(
        std::string(in.message, std::min<uint32_t>(in.message_size, FAST_LANE_MESSAGE_BYTES)));
    completion.set_queue_ns(in.queue_ns);
    completion.set_device_ns(in.device_ns);
    return completion;
}

}  // namespace corun::service
