// A session's one fast lane (docs/SERVICE.md, "How it works"): opened by OpenFastLane on a region
// the session registered, served by a FastLaneServer thread, stopped for good when the session
// is released.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "corun/status.hpp"
#include "service/daemon/fast_lane_server.hpp"
#include "service/daemon/shared_memory_mapping.hpp"

namespace corun::service {

class ClientSession;

class SessionLane {
public:
    // Serves `region` (the session's buffer `buffer_id`, nullptr when it has none of that id)
    // as the lane of `session`, which outlives it (the session stops it in release()).
    Status open(ClientSession& session, uint64_t buffer_id,
                std::shared_ptr<SharedMemoryMapping> region);
    // Stops the lane's thread and waits for it (a frame it runs finishes first); later open()s
    // are refused with SHUTDOWN. Not under a lock the lane thread takes: it may be in submit().
    void stop();

private:
    std::mutex mutex_;  // guards the two below
    bool stopped_ = false;
    std::shared_ptr<FastLaneServer> server_;
};

}  // namespace corun::service
