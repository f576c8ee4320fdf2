// One client session of corund: what a process opened with Hello (its device group, its
// regions, its loaded and configured models, its fast lane) and the completions on their way
// back to it. Everything a session holds is released with it, whatever the client did.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corun/vdevice.hpp"
#include "corun_service.pb.h"
#include "service/daemon/buffer_registry.hpp"
#include "service/daemon/client_account.hpp"
#include "service/daemon/completion_outbox.hpp"
#include "service/daemon/daemon_config.hpp"
#include "service/daemon/job_submitter.hpp"
#include "service/daemon/llm_registry.hpp"
#include "service/daemon/load_memory_meter.hpp"
#include "service/daemon/model_registry.hpp"
#include "service/daemon/peer_registry.hpp"
#include "service/daemon/session_lane.hpp"
#include "service/daemon/speech_registry.hpp"

namespace corun::service {

struct SessionOwner {
    PeerCredentials credentials;
    std::string peer;  // gRPC's peer string of the connection that said Hello ("fd:12")
    std::string process_name;
    std::string client_version;
};

class ClientSession {
public:
    ClientSession(uint64_t id, SessionOwner owner, std::unique_ptr<VDevice> vdevice,
                  DaemonLimits limits, std::shared_ptr<ClientAccount> account,
                  LoadMemoryMeter& load_memory, std::shared_ptr<AccountCharge> worker_threads);
    ~ClientSession();
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;

    uint64_t id() const { return id_; }
    const SessionOwner& owner() const { return owner_; }
    VDevice& vdevice() { return *vdevice_; }

    BufferRegistry& buffers() { return buffers_; }
    ModelRegistry& models() { return models_; }
    LlmRegistry& llms() { return llms_; }
    Speech2TextRegistry& speech_models() { return speech_models_; }
    CompletionOutbox& outbox() { return *outbox_; }

    // JobSubmitter::submit: from the stream's reader thread, or the lane's thread with `lane`,
    // or the lane ring's with `lane` and `may_run_here` false.
    std::optional<v1::ServerMessage> submit(const v1::InferRequest& request,
                                            std::shared_ptr<FastLaneServer> lane = nullptr,
                                            bool may_run_here = true) {
        return submitter_.submit(request, std::move(lane), may_run_here);
    }
    // Serves the registered buffer `buffer_id` (at least FAST_LANE_BYTES) as the session's fast
    // lane until release(). One per session.
    Status open_fast_lane(uint64_t buffer_id);

    // The scheduler's figures for this session's configured models and LLMs only: other
    // clients' model names are theirs (Monitor shows all).
    std::vector<v1::ModelStats> scheduler_stats();

    // The session's one Session stream; false if it already has one.
    bool attach_stream();
    bool has_stream() const { return stream_attached_.load(); }

    // Aborts every generation and frees every LLM, stops running frames, stops the lane, shuts
    // every model down (queued frames complete with SHUTDOWN), then drops models and regions.
    // Idempotent.
    void release();

private:
    const uint64_t id_;
    const SessionOwner owner_;
    std::unique_ptr<VDevice> vdevice_;
    const std::shared_ptr<AccountCharge> worker_threads_;  // the scheduler workers of the group
    std::atomic<bool> stream_attached_{false};
    std::atomic<bool> released_{false};

    // Declared in the order they are built: the submitter uses the registries and the outbox.
    const std::shared_ptr<CompletionOutbox> outbox_ = std::make_shared<CompletionOutbox>();
    BufferRegistry buffers_;
    ModelRegistry models_;
    LlmRegistry llms_;
    Speech2TextRegistry speech_models_;
    JobSubmitter submitter_;
    SessionLane lane_;
};

}  // namespace corun::service
