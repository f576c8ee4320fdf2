// corund's side of a session's fast lane (src/protocol/fast_lane.hpp): a thread that waits on
// the lane's request futex, copies each request out, hands it to the session exactly as a
// request from the stream (same validation, same limits, same scheduler), and writes the
// completion back into the lane, from that thread when the frame ran there, else from the
// worker that finished it. The lane ring that follows the page is served beside it
// (LaneRingServer); complete() sends each completion where its job came from.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "corun_service.pb.h"
#include "protocol/fast_lane.hpp"
#include "service/daemon/lane_ring_server.hpp"
#include "service/daemon/shared_memory_mapping.hpp"

namespace corun::service {

class ClientSession;

class FastLaneServer : public std::enable_shared_from_this<FastLaneServer> {
public:
    // Serves the lane at the start of `mapping` (at least FAST_LANE_BYTES) for `session`,
    // which must outlive the thread: the session stops it in release().
    static std::shared_ptr<FastLaneServer> start(ClientSession& session,
                                                 std::shared_ptr<SharedMemoryMapping> mapping);
    ~FastLaneServer();
    FastLaneServer(const FastLaneServer&) = delete;
    FastLaneServer& operator=(const FastLaneServer&) = delete;

    // Publishes a completion to the client (any thread; the mapping outlives the session):
    // into the lane when it is the job the lane is running, else into the ring.
    void complete(const v1::Completion& completion);
    // Stops the threads and joins them; a frame the lane runs finishes first. Idempotent; not
    // from the lane's own thread.
    void stop();

private:
    FastLaneServer(ClientSession& session, std::shared_ptr<SharedMemoryMapping> mapping);
    // `seen`: the request sequence before the client could ring.
    void serve(uint32_t seen);

    ClientSession& session_;
    const std::shared_ptr<SharedMemoryMapping> mapping_;
    FastLane& lane_;
    std::atomic<bool> stopping_{false};
    // A client that breaks the one-request-at-a-time rule can have two frames complete at
    // once; their writes into the page take turns (what the client reads is then its problem).
    std::mutex completion_mutex_;
    // The job of the request the lane serves; the client sends the next only once it has its
    // completion, so every other completion belongs to the ring.
    std::atomic<uint64_t> lane_job_id_{0};
    std::unique_ptr<LaneRingServer> ring_;
    std::thread thread_;
};

}  // namespace corun::service
