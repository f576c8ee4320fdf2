// The fast lane: synchronous run() without gRPC in the per-frame path. Each session may open
// one lane: a page of shared memory the client registers like any buffer (RegisterBuffer, so
// corund's fault guard covers it) and hands to OpenFastLane. The client writes one request
// (the same buffer references an InferRequest carries), adds 1 to request_sequence and wakes
// it; a corund thread of the session waits on that futex, copies the request out, validates it
// exactly as one from the stream, runs it (on that thread when a slot is free), writes the
// completion and wakes completion_sequence, on which the client waits. Futexes work on shared
// mappings across processes, so nothing but the region's name crosses the socket. The Session
// stream carries control (errors from a broken lane, frames that fit no lane) and tells either
// side when the other died. One request at a time per lane; the client uses it only for a sync
// run() of one frame while no other sync run() holds it. Other frames take the lane ring
// (protocol/lane_ring.hpp), which follows this page in the same region.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "corun/expected.hpp"
#include "corun_service.pb.h"

namespace corun::service {

constexpr uint32_t FAST_LANE_MAX_REFERENCES = 32;  // inputs + outputs of the frame
constexpr uint32_t FAST_LANE_MESSAGE_BYTES = 2048;
constexpr size_t FAST_LANE_PAGE_BYTES = 4096;  // the lane itself, at the region's start
// The lane ring (protocol/lane_ring.hpp) follows the page in the same region.
constexpr size_t LANE_RING_OFFSET = FAST_LANE_PAGE_BYTES;
constexpr size_t FAST_LANE_BYTES = LANE_RING_OFFSET + (size_t{192} << 10);  // the region in all

struct FastLaneReference {
    uint64_t buffer_id;
    uint64_t offset;
    uint64_t size;
};

// The request as the client writes it; corund copies it out before reading any field.
struct FastLaneRequest {
    uint64_t job_id;
    uint64_t model_id;
    uint32_t input_count;
    uint32_t output_count;
    FastLaneReference references[FAST_LANE_MAX_REFERENCES];  // inputs, then outputs
};

struct FastLaneCompletion {
    uint64_t job_id;
    int32_t status_code;    // StatusCode
    uint32_t message_size;  // bytes of message used
    int64_t queue_ns;
    int64_t device_ns;
    char message[FAST_LANE_MESSAGE_BYTES];
};

struct FastLane {
    std::atomic<uint32_t> request_sequence;     // futex word; the client adds 1 per request
    std::atomic<uint32_t> completion_sequence;  // futex word; corund adds 1 per completion
    FastLaneRequest request;
    FastLaneCompletion completion;
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(sizeof(FastLane) <= FAST_LANE_PAGE_BYTES);

// Sleeps while `word` holds `expected`, at most `timeout` (woken by futex_wake from any
// process that maps the same page). Returns at once if the value differs.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, std::chrono::microseconds timeout);
void futex_wake(std::atomic<uint32_t>& word);

// The request copied out of the lane as the InferRequest of one frame it stands for, or
// INVALID_ARGUMENT when its reference counts are out of range. What the references point at is
// checked afterwards by resolve_infer_request, as for the stream.
Expected<v1::InferRequest> decode_fast_lane_request(const FastLaneRequest& request);

// Writes `completion` into the lane (its message cut to FAST_LANE_MESSAGE_BYTES), then
// publishes it (completion_sequence + 1) and wakes the client.
void publish_fast_lane_completion(FastLane& lane, const v1::Completion& completion);

// The completion the lane holds, as the stream would have carried it.
v1::Completion read_fast_lane_completion(const FastLane& lane);

}  // namespace corun::service
