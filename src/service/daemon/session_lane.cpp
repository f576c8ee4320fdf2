#include "service/daemon/session_lane.hpp"

#include <spdlog/spdlog.h>

#include "service/daemon/request_validation.hpp"
#include "service/daemon/session.hpp"

namespace corun::service {

Status SessionLane::open(ClientSession& session, uint64_t buffer_id,
                         std::shared_ptr<SharedMemoryMapping> region) {
    std::lock_guard lock(mutex_);
    if (stopped_) return Status(StatusCode::SHUTDOWN, "the session is being released");
    if (server_) {
        return Status(StatusCode::INVALID_OPERATION,
                      "this session already has a fast lane; a session opens one");
    }
    if (!region) {
        return Status(StatusCode::NOT_FOUND, "buffer_id " + std::to_string(buffer_id) +
                                                 " is not a registered buffer of this session; "
                                                 "RegisterBuffer the lane's region first");
    }
    CORUN_RETURN_IF_ERROR(check_fast_lane_region(buffer_id, region->size()));
    server_ = FastLaneServer::start(session, region);
    spdlog::debug("session {}: fast lane open on '{}'", session.id(), region->name());
    return Status::ok();
}

void SessionLane::stop() {
    std::shared_ptr<FastLaneServer> server;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        server.swap(server_);
    }
    if (server) server->stop();
}

}  // namespace corun::service
