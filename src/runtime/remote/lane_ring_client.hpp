// The client's side of a session's lane ring (src/protocol/lane_ring.hpp): submit() writes a
// job's entry and rings corund only when its ring thread sleeps; a reader thread of its own
// takes the completions and runs each job's handler, as the Session stream's reader does for the
// stream. The ring holds at most LANE_RING_ENTRIES jobs; submit() refuses more (the caller then
// sends the job on the stream), so nothing waits. When the daemon goes away (the stream broke)
// or the connection closes, every job still in the ring completes with RPC_FAILED.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "corun/expected.hpp"
#include "protocol/lane_ring.hpp"
#include "runtime/remote/session_stream.hpp"
#include "runtime/remote/shared_memory_region.hpp"

namespace corun::service {

class LaneRingClient : public std::enable_shared_from_this<LaneRingClient> {
public:
    // Serves the ring of the lane region `region` (FAST_LANE_BYTES, already opened with
    // OpenFastLane). The reader checks `daemon_gone` every few milliseconds while idle; `socket`
    // names the daemon in errors.
    static std::shared_ptr<LaneRingClient> start(std::shared_ptr<SharedMemoryRegion> region,
                                                 std::function<bool()> daemon_gone,
                                                 std::string socket);
    ~LaneRingClient();
    LaneRingClient(const LaneRingClient&) = delete;
    LaneRingClient& operator=(const LaneRingClient&) = delete;

    // Sends one job through the ring. True: `on_completion` runs exactly once, on the reader
    // thread (or on the thread that finds the daemon gone, or close()). False, at once, when
    // the ring holds LANE_RING_ENTRIES jobs, the job has more references than an entry holds,
    // or the ring is closed: nothing was sent, use the stream.
    bool submit(uint64_t job_id, uint64_t model_id, const std::vector<FrameSlices>& frames,
                CompletionHandler& on_completion);

    // Forgets a pending job, so that its completion, should it still come, is dropped. True
    // when it was pending (its handler will not run).
    bool abandon(uint64_t job_id);

    // Stops the reader; jobs still in the ring complete with RPC_FAILED. Joins the reader
    // unless called on it (a completion handler may drop the last reference to the connection).
    void close();

private:
    LaneRingClient(std::shared_ptr<SharedMemoryRegion> region, std::function<bool()> daemon_gone,
                   std::string socket);
    void read_completions();
    // Takes every published completion; false when the daemon broke the ring's protocol.
    bool take_completions();
    // Closes the ring to submissions and completes every pending job with `reason`.
    void fail_pending(const Status& reason);

    const std::shared_ptr<SharedMemoryRegion> region_;  // the reader may outlive the connection
    LaneRing& ring_;
    const std::function<bool()> daemon_gone_;
    const std::string socket_;
    std::thread reader_;
    std::atomic<bool> closing_{false};
    Status broken_reason_;  // set by the reader before it stops on a broken ring

    std::mutex submit_mutex_;  // one writer of the submission ring
    bool closed_ = false;      // guarded by submit_mutex_
    uint32_t submitted_ = 0;   // guarded by submit_mutex_; the client's own count
    // Jobs submitted whose completion the reader has not taken yet: the ring's bound.
    std::atomic<uint32_t> in_ring_{0};
    uint32_t taken_ = 0;  // completions taken; the reader's

    PendingCompletions pending_;
};

}  // namespace corun::service
