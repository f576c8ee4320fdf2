// corund's side of a session's fast lane (src/service/fast_lane.hpp): a thread that waits on
// the lane's request futex, copies each request out, hands it to the session exactly as a
// request from the stream (same validation, same limits, same scheduler), and writes the
// completion back into the lane, from that thread when the frame ran there, else from the
// worker that finished it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "corun_service.pb.h"
#include "service/daemon/shared_memory_mapping.hpp"
#include "protocol/fast_lane.hpp"

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

    // Publishes a completion to the client (any thread; the mapping outlives the session).
    void complete(const v1::Completion& completion);
    // Stops the thread and joins it; a frame it is running finishes first. Idempotent; not
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
    std::thread thread_;
};

}  // namespace corun::service
