#include "service/daemon/lane_ring_server.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

namespace corun::service {
namespace {

// How often the ring thread looks at its stop flag and the region's health while idle.
constexpr std::chrono::milliseconds IDLE_CHECK{200};

v1::Completion refused(uint64_t job_id, const Status& status) {
    v1::Completion completion;
    completion.set_job_id(job_id);
    completion.mutable_status()->set_code(static_cast<int32_t>(status.code()));
    completion.mutable_status()->set_message(status.message());
    return completion;
}

}  // namespace

LaneRingServer::LaneRingServer(uint64_t session_id, std::shared_ptr<SharedMemoryMapping> mapping,
                               Submit submit, Overflow overflow)
    : session_id_(session_id),
      mapping_(std::move(mapping)),
      ring_(lane_ring_in(mapping_->data())),
      submit_(std::move(submit)),
      overflow_(std::move(overflow)) {}

std::unique_ptr<LaneRingServer> LaneRingServer::start(uint64_t session_id,
                                                      std::shared_ptr<SharedMemoryMapping> mapping,
                                                      Submit submit, Overflow overflow) {
    std::unique_ptr<LaneRingServer> server(
        new LaneRingServer(session_id, std::move(mapping), std::move(submit), std::move(overflow)));
    // Both counts start at 0, as in the zero-filled region the client created: an entry the
    // client publishes before this thread first runs is taken like any other.
    server->thread_ = std::thread([raw = server.get()] { raw->serve(); });
    return server;
}

LaneRingServer::~LaneRingServer() {
    stop();
}

void LaneRingServer::stop() {
    stopping_ = true;
    // Our own waiter: same page, same futex.
    ring_.daemon_doorbell.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(ring_.daemon_doorbell);
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void LaneRingServer::complete(const v1::Completion& completion) {
    if (mapping_->faulted()) {  // the client cut its region short: the ring reads as zeros
        overflow_(completion);
        return;
    }
    {
        std::lock_guard lock(completion_mutex_);
        // The client's count, read from the page: anything but 0..N-1 entries in use (a client
        // that consumes nothing, or writes the counter freely) counts as full.
        const uint32_t consumed = ring_.completion_tail.load(std::memory_order_acquire);
        if (published_ - consumed < LANE_RING_ENTRIES) {
            write_lane_ring_completion(ring_.completions[published_ % LANE_RING_ENTRIES],
                                       published_, completion);
            ++published_;
            ring_.completion_head.store(published_, std::memory_order_seq_cst);
            ring_doorbell_if_sleeping(ring_.client_doorbell, ring_.client_sleeping);
            return;
        }
    }
    overflow_(completion);
}

void LaneRingServer::serve() {
    while (!stopping_) {
        if (mapping_->faulted()) {
            spdlog::warn(
                "session {}: its fast lane's region '{}' was shrunk by the client; the lane "
                "ring is closed (the Session stream still serves it)",
                session_id_, mapping_->name());
            return;
        }
        if (!take_submissions()) return;
        sleep_until_rung(
            ring_.daemon_doorbell, ring_.daemon_sleeping,
            [&] {
                return stopping_ || ring_.submission_head.load(std::memory_order_seq_cst) != taken_;
            },
            IDLE_CHECK);
    }
}

bool LaneRingServer::take_submissions() {
    const uint32_t head = ring_.submission_head.load(std::memory_order_acquire);
    const uint32_t published = head - taken_;
    if (published > LANE_RING_ENTRIES) {
        // A count no client following the protocol can write: nothing in the ring can be
        // trusted to be an entry. Job 0 (no job has it) carries the reason to the client.
        const Status broken(StatusCode::INVALID_ARGUMENT,
                            "the lane ring's submission_head says " + std::to_string(published) +
                                " entries were published at once, more than the ring's " +
                                std::to_string(LANE_RING_ENTRIES) +
                                "; corund stops reading this session's ring (send on the "
                                "Session stream)");
        spdlog::warn("session {}: {}", session_id_, broken.message());
        complete(refused(0, broken));
        return false;
    }
    for (uint32_t i = 0; i < published && !stopping_; ++i) {
        // One copy, then only the copy is read: the client may write the page at any time.
        LaneRingSubmission entry;
        std::memcpy(&entry, &ring_.submissions[taken_ % LANE_RING_ENTRIES], sizeof entry);
        const uint32_t sequence = taken_++;
        ring_.submission_tail.store(taken_, std::memory_order_release);
        auto decoded = decode_lane_ring_submission(entry, sequence);
        if (!decoded) {
            complete(refused(entry.job_id, decoded.status()));
            continue;
        }
        if (auto completion = submit_(*decoded)) complete(*completion);
    }
    return true;
}

}  // namespace corun::service
