// Inference requests of one session, from its Session stream or its fast lane, checked against
// the session's models and regions and handed to the scheduler; each ends in exactly one
// Completion, written to the outbox (stream), the lane, or returned to the caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "corun_service.pb.h"
#include "service/daemon/buffer_registry.hpp"
#include "service/daemon/completion_outbox.hpp"
#include "service/daemon/fast_lane_server.hpp"
#include "service/daemon/model_registry.hpp"

namespace corun::service {

class JobSubmitter {
public:
    // At most `max_queued_frames` frames of the client queued or running at once.
    JobSubmitter(ModelRegistry& models, BufferRegistry& buffers,
                 std::shared_ptr<CompletionOutbox> outbox, uint64_t max_queued_frames);

    // Validates and submits one inference; exactly one Completion for its job_id follows.
    // Called on the stream's reader thread, or with `lane` on the session's fast-lane thread,
    // which runs the job itself when the client has no other frame in flight, a device slot is
    // free and the scheduler picks it at once. Then, as for a request refused at once, the
    // Completion is returned, for the caller to send (or write into the lane); otherwise it
    // comes through the outbox (or the lane) when the frames are done. A job of the lane ring
    // comes with `lane` (whose ring takes its completion) and `may_run_here` false: it is
    // always queued, as a stream request is.
    std::optional<v1::ServerMessage> submit(const v1::InferRequest& request,
                                            std::shared_ptr<FastLaneServer> lane = nullptr,
                                            bool may_run_here = true);

private:
    ModelRegistry& models_;
    BufferRegistry& buffers_;
    const std::shared_ptr<CompletionOutbox> outbox_;
    const uint64_t max_queued_frames_;
    // Shared with the jobs' callbacks, which may outlive the session on a worker thread.
    const std::shared_ptr<std::atomic<uint64_t>> frames_in_flight_ =
        std::make_shared<std::atomic<uint64_t>>(0);
};

}  // namespace corun::service
