// corund's side of a session's lane ring (src/protocol/lane_ring.hpp): a thread that takes the
// submissions the client publishes, copies each out, decodes it and hands it to the session as
// a request from the stream (same validation, same limits, same scheduler; queued, never run on
// this thread, so that one long frame does not hold up the entries behind it), and a
// completion writer any thread may call. Entries that do not decode complete at once with the
// error. A completion that finds the ring full (only a client that breaks the ring's bound can
// make it so) goes to `overflow` (the session's stream) instead of waiting.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "corun_service.pb.h"
#include "protocol/lane_ring.hpp"
#include "service/daemon/shared_memory_mapping.hpp"

namespace corun::service {

class LaneRingServer {
public:
    // Submits a decoded request; returns its completion when it was refused at once, else
    // nothing (complete() follows when its frames are done).
    using Submit = std::function<std::optional<v1::Completion>(const v1::InferRequest&)>;
    using Overflow = std::function<void(const v1::Completion&)>;

    // Serves the ring of the lane region `mapping` (at least FAST_LANE_BYTES). `submit` and
    // `overflow` must stay callable until stop() returns. `session_id` names it in the log.
    static std::unique_ptr<LaneRingServer> start(uint64_t session_id,
                                                 std::shared_ptr<SharedMemoryMapping> mapping,
                                                 Submit submit, Overflow overflow);
    ~LaneRingServer();
    LaneRingServer(const LaneRingServer&) = delete;
    LaneRingServer& operator=(const LaneRingServer&) = delete;

    // Publishes a completion to the client (any thread, also after stop()).
    void complete(const v1::Completion& completion);
    // Stops the thread and joins it. Idempotent; not from the ring's own thread.
    void stop();

private:
    LaneRingServer(uint64_t session_id, std::shared_ptr<SharedMemoryMapping> mapping, Submit submit,
                   Overflow overflow);
    void serve();
    // Takes every published entry; false when the ring cannot be served any longer.
    bool take_submissions();

    const uint64_t session_id_;
    const std::shared_ptr<SharedMemoryMapping> mapping_;
    LaneRing& ring_;
    const Submit submit_;
    const Overflow overflow_;
    uint32_t taken_ = 0;  // submissions taken: corund's count, never read back from the page
    std::atomic<bool> stopping_{false};
    std::mutex completion_mutex_;  // completions come from any worker
    uint32_t published_ = 0;       // completions published; guarded by completion_mutex_
    std::thread thread_;
};

}  // namespace corun::service
