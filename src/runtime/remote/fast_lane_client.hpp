// The client's side of a session's fast lane (src/protocol/fast_lane.hpp): the page it shares
// with corund, and one synchronous frame at a time through it. The caller's own thread writes
// the request, rings the daemon's futex and sleeps on the completion futex: no gRPC, no reader
// thread in between (docs/SERVICE.md, "Transport").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "corun/expected.hpp"
#include "protocol/fast_lane.hpp"
#include "runtime/remote/session_stream.hpp"
#include "runtime/remote/shared_memory_region.hpp"

namespace corun::service {

class FastLaneClient {
public:
    // A zero-filled page for the lane (not yet registered or opened).
    static Expected<std::unique_ptr<FastLaneClient>> create();

    SharedMemoryRegion& region() { return *region_; }
    // The whole lane region, shared with the lane ring that follows the page.
    const std::shared_ptr<SharedMemoryRegion>& shared_region() const { return region_; }

    // Runs one frame through the lane and returns its completion, or nullopt at once when
    // another thread holds the lane (use the stream then). While waiting it checks
    // `daemon_gone` every few milliseconds: a dead daemon gives RPC_FAILED, not a hang.
    std::optional<JobCompletion> run(uint64_t job_id, uint64_t model_id, const FrameSlices& frame,
                                     const std::function<bool()>& daemon_gone,
                                     const std::string& socket);

private:
    explicit FastLaneClient(std::shared_ptr<SharedMemoryRegion> region);

    std::shared_ptr<SharedMemoryRegion> region_;
    FastLane& lane_;
    std::mutex busy_;  // one frame at a time
    bool broken_ = false;
};

}  // namespace corun::service
