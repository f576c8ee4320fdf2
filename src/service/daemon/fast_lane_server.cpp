#include "service/daemon/fast_lane_server.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

#include "service/daemon/session.hpp"
#include "service/daemon/status_message.hpp"

namespace corun::service {
namespace {

// How often the lane thread looks at its stop flag and the region's health while idle.
constexpr std::chrono::milliseconds IDLE_CHECK{200};

}  // namespace

FastLaneServer::FastLaneServer(ClientSession& session, std::shared_ptr<SharedMemoryMapping> mapping)
    : session_(session),
      mapping_(std::move(mapping)),
      lane_(*reinterpret_cast<FastLane*>(mapping_->data())) {}

std::shared_ptr<FastLaneServer> FastLaneServer::start(
    ClientSession& session, std::shared_ptr<SharedMemoryMapping> mapping) {
    std::shared_ptr<FastLaneServer> server(new FastLaneServer(session, std::move(mapping)));
    // Read here, before OpenFastLane answers: the client may ring as soon as it has the answer,
    // before the new thread first runs, and that request must not be taken as already seen.
    const uint32_t seen = server->lane_.request_sequence.load(std::memory_order_acquire);
    server->thread_ = std::thread([raw = server.get(), seen] { raw->serve(seen); });
    // The ring's jobs are always queued, never run on its thread: one frame running there would
    // hold up the entries behind it, and a client pumping several models would run them in
    // lockstep. Both callbacks run before stop() ends.
    server->ring_ = LaneRingServer::start(
        session.id(), server->mapping_,
        [raw = server.get()](const v1::InferRequest& request) -> std::optional<v1::Completion> {
            auto refused = raw->session_.submit(request, raw->shared_from_this(), false);
            if (!refused) return std::nullopt;
            return refused->completion();
        },
        [raw = server.get()](const v1::Completion& completion) {
            v1::ServerMessage message;
            *message.mutable_completion() = completion;
            raw->session_.outbox().push(std::move(message), nullptr);
        });
    return server;
}

FastLaneServer::~FastLaneServer() {
    if (thread_.joinable()) {
        // Only reached if the session never stopped it; a lane thread cannot join itself.
        stopping_ = true;
        futex_wake(lane_.request_sequence);
        if (thread_.get_id() == std::this_thread::get_id()) {
            thread_.detach();
        } else {
            thread_.join();
        }
    }
}

void FastLaneServer::stop() {
    if (ring_) ring_->stop();
    stopping_ = true;
    futex_wake(lane_.request_sequence);  // our own waiter: same page, same futex
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void FastLaneServer::complete(const v1::Completion& completion) {
    if (completion.job_id() != lane_job_id_.load()) {
        ring_->complete(completion);
        return;
    }
    if (mapping_->faulted()) return;  // the client cut its lane short: nobody can read it
    std::lock_guard lock(completion_mutex_);
    publish_fast_lane_completion(lane_, completion);
}

void FastLaneServer::serve(uint32_t seen) {
    while (!stopping_) {
        futex_wait(lane_.request_sequence, seen, IDLE_CHECK);
        if (stopping_) break;
        if (mapping_->faulted()) {
            spdlog::warn(
                "session {}: its fast lane's region '{}' was shrunk by the client; the "
                "lane is closed (the Session stream still serves it)",
                session_.id(), mapping_->name());
            break;
        }
        const uint32_t sequence = lane_.request_sequence.load(std::memory_order_acquire);
        if (sequence == seen) continue;  // timed out, or woken for nothing
        seen = sequence;
        // One copy, then only the copy is read: the client may write the page at any time.
        FastLaneRequest request;
        std::memcpy(&request, &lane_.request, sizeof request);
        lane_job_id_ = request.job_id;
        auto decoded = decode_fast_lane_request(request);
        if (!decoded) {
            v1::Completion refused;
            refused.set_job_id(request.job_id);
            *refused.mutable_status() = to_proto(decoded.status());
            complete(refused);
            continue;
        }
        if (auto completion = session_.submit(*decoded, shared_from_this())) {
            complete(completion->completion());
        }
    }
}

}  // namespace corun::service
