// The lane ring: asynchronous frames and their completions through shared memory, the gRPC
// Session stream left for control (docs/SERVICE.md, "Transport"). It lives in the fast lane's
// region, after the lane's page (LANE_RING_OFFSET), so the one region the client registers and
// hands to OpenFastLane carries both and corund's fault guard covers both.
//
// Two single-producer rings of LANE_RING_ENTRIES entries each:
//   - submissions: the client writes an entry (job id, model id, the buffer slices of each frame
//     as an InferRequest carries them) at submission_head % N, then publishes it by storing
//     submission_head + 1 with release ordering; corund copies the entry out before reading any
//     field, checks it like a request from the stream, and stores submission_tail + 1.
//   - completions: corund writes a completion at completion_head % N and publishes it the same
//     way; the client's reader thread copies it out and stores completion_tail + 1.
// Each side keeps its own counters authoritative (it never reads back what it wrote from the
// shared page, which the other side could overwrite): a count read from the page is checked
// before it is used. Each entry carries its sequence number, so an entry written in the wrong
// place or not yet written (a torn publication) is told apart from the one expected.
//
// Wake-ups: a reader that finds its ring empty says so (daemon_sleeping / client_sleeping),
// looks once more and sleeps on its doorbell futex; a writer that published looks at that flag
// and rings the doorbell only when the reader sleeps. The head's store and load and the flag's
// are all sequentially consistent, so of "writer publishes, then looks at the flag" and
// "reader raises the flag, then looks at the head" one always sees the other: no lost wake-up.
// While both sides are busy no system call is made at all.
//
// Bounded: a client keeps at most LANE_RING_ENTRIES jobs in the ring (submitted and whose
// completion it has not consumed), so neither ring can overflow; when it has that many, its next
// job takes the Session stream. corund never blocks on a full completion ring (only a client
// that breaks the rule fills it): that completion then goes on the stream.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "corun/expected.hpp"
#include "corun_service.pb.h"
#include "protocol/fast_lane.hpp"

namespace corun::service {

constexpr uint32_t LANE_RING_ENTRIES = 64;
static_assert((LANE_RING_ENTRIES & (LANE_RING_ENTRIES - 1)) == 0, "a power of two");
constexpr uint32_t LANE_RING_MAX_REFERENCES = 64;  // all frames' inputs and outputs of a job
constexpr uint32_t LANE_RING_MESSAGE_BYTES = 1024;

struct LaneRingSubmission {
    uint32_t sequence;  // the submission_head value it was published under
    uint32_t frame_count;
    uint32_t inputs_per_frame;
    uint32_t outputs_per_frame;
    uint64_t job_id;
    uint64_t model_id;
    // Frame by frame: that frame's inputs, then its outputs.
    FastLaneReference references[LANE_RING_MAX_REFERENCES];
};

struct LaneRingCompletion {
    uint32_t sequence;  // the completion_head value it was published under
    int32_t status_code;
    uint64_t job_id;
    int64_t queue_ns;
    int64_t device_ns;
    uint32_t message_size;
    char message[LANE_RING_MESSAGE_BYTES];
};

// Counters written by one side sit on cache lines of their own, so that the two processes do
// not take turns owning one line on every entry.
struct LaneRing {
    alignas(64) std::atomic<uint32_t> submission_head;  // the client's
    alignas(64) std::atomic<uint32_t> submission_tail;  // corund's
    alignas(64) std::atomic<uint32_t> daemon_doorbell;  // futex word corund sleeps on
    std::atomic<uint32_t> daemon_sleeping;              // 1 while corund's ring thread sleeps
    alignas(64) std::atomic<uint32_t> completion_head;  // corund's
    alignas(64) std::atomic<uint32_t> completion_tail;  // the client's
    alignas(64) std::atomic<uint32_t> client_doorbell;  // futex word the reader thread sleeps on
    std::atomic<uint32_t> client_sleeping;
    alignas(64) LaneRingSubmission submissions[LANE_RING_ENTRIES];
    LaneRingCompletion completions[LANE_RING_ENTRIES];
};
static_assert(LANE_RING_OFFSET % 64 == 0);
static_assert(LANE_RING_OFFSET + sizeof(LaneRing) <= FAST_LANE_BYTES);

// The ring inside a lane region of at least FAST_LANE_BYTES.
inline LaneRing& lane_ring_in(uint8_t* lane_region) {
    return *reinterpret_cast<LaneRing*>(lane_region + LANE_RING_OFFSET);
}

// After publishing (a seq_cst store of the head): rings `doorbell` if its reader sleeps.
void ring_doorbell_if_sleeping(std::atomic<uint32_t>& doorbell, std::atomic<uint32_t>& sleeping);

// The reader's side: says it sleeps, then sleeps on `doorbell` (at most `timeout`) unless
// `has_work()` (which loads the head seq_cst), looked at after saying so, finds something.
template <typename HasWork>
void sleep_until_rung(std::atomic<uint32_t>& doorbell, std::atomic<uint32_t>& sleeping,
                      HasWork has_work, std::chrono::microseconds timeout) {
    const uint32_t seen = doorbell.load(std::memory_order_seq_cst);
    sleeping.store(1, std::memory_order_seq_cst);
    if (!has_work()) futex_wait(doorbell, seen, timeout);
    sleeping.store(0, std::memory_order_relaxed);
}

// An entry copied out of the submission ring, as the InferRequest it stands for; `expected`
// is the sequence number the ring's order gives it. INVALID_ARGUMENT naming the job and the
// cause when the entry is torn (another sequence number), or its counts are out of range. What
// the references point at is checked afterwards by resolve_infer_request, as for the stream.
Expected<v1::InferRequest> decode_lane_ring_submission(const LaneRingSubmission& entry,
                                                       uint32_t expected);

// Writes `completion` into `entry` (its message cut to LANE_RING_MESSAGE_BYTES).
void write_lane_ring_completion(LaneRingCompletion& entry, uint32_t sequence,
                                const v1::Completion& completion);

// A completion copied out of the ring, as the stream would have carried it.
v1::Completion read_lane_ring_completion(const LaneRingCompletion& entry);

}  // namespace corun::service
