// One client session of corund: what a process opened with Hello (its device group, its
// loaded and configured models, its shared-memory regions) and the completions on their way
// back to it. Everything a session holds is released with it, whatever the client did.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "corun/infer_model.hpp"
#include "corun/vdevice.hpp"
#include "corun_service.pb.h"
#include "runtime/api_access.hpp"
#include "service/daemon/client_account.hpp"
#include "service/daemon/daemon_config.hpp"
#include "service/daemon/fast_lane_server.hpp"
#include "service/daemon/load_memory_meter.hpp"
#include "service/daemon/monitor_stats.hpp"
#include "service/daemon/peer_registry.hpp"
#include "service/daemon/request_validation.hpp"
#include "service/daemon/shared_memory_mapping.hpp"

namespace corun::service {

struct SessionOwner {
    PeerCredentials credentials;
    std::string peer;  // gRPC's peer string of the connection that said Hello ("fd:12")
    std::string process_name;
    std::string client_version;
};

// Completions on their way to the client's stream, one Write at a time (gRPC's rule) and in
// the order they were made: the writer thread sends what is queued (pop, write, write_done);
// the stream's reader thread may send a completion it made itself directly (try_claim_write,
// write, write_done) when nothing is queued or being written. Completions made on scheduler
// workers are always queued, so that a slow client never blocks a worker.
class CompletionOutbox {
public:
    void push(v1::ServerMessage message, std::shared_ptr<ModelActivity> activity);
    // Waits for a completion and claims the stream for it; false once the outbox is closed and
    // empty. The caller writes it, then calls write_done().
    bool pop(v1::ServerMessage& message, std::shared_ptr<ModelActivity>& activity);
    // Claims the stream if nothing is queued or being written; the caller then writes and
    // calls write_done(). False: push() the completion instead, behind the queued ones.
    bool try_claim_write();
    void write_done();
    // Waits (at most `timeout`) until fewer than `limit` completions wait; false on timeout.
    bool wait_for_room(size_t limit, std::chrono::milliseconds timeout);
    void close();
    size_t size() const;

private:
    struct Entry {
        v1::ServerMessage message;
        std::shared_ptr<ModelActivity> activity;
    };
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Entry> entries_;
    bool writing_ = false;  // a completion is being written (by the writer or the reader)
    bool closed_ = false;
};

// A model loaded by LoadModel: configured any number of times by ConfigureModel.
struct LoadedModelEntry {
    uint64_t loaded_model_id = 0;
    // What loading took from the user's account (memory, intra-op threads); given back when
    // neither this entry nor a configuration of it is left.
    std::vector<std::shared_ptr<AccountCharge>> charges;
    std::string name;
    std::shared_ptr<InferModel> model;  // for configure(); its stream setters are shared state,
    std::mutex configure_mutex;         // so one configuration at a time
};

// A model configured by ConfigureModel, fed by the session's stream.
struct ServedModel {
    explicit ServedModel(ConfiguredInferModel configured) : configured(std::move(configured)) {}
    uint64_t model_id = 0;  // daemon-wide
    uint64_t loaded_model_id = 0;
    std::vector<std::shared_ptr<AccountCharge>> charges;  // the loaded model's, shared
    ModelLayout layout;
    ConfiguredInferModel configured;
    uint32_t queue_capacity = 0;
    std::atomic<uint32_t> priority{16};
    std::atomic<uint64_t> fast_lane_frames{0};  // accepted from the session's fast lane
    std::shared_ptr<ModelActivity> activity = std::make_shared<ModelActivity>();
};

class ClientSession {
public:
    ClientSession(uint64_t id, SessionOwner owner, std::unique_ptr<VDevice> vdevice,
                  DaemonLimits limits,
                  std::shared_ptr<ClientAccount> account, LoadMemoryMeter& load_memory,
                  std::shared_ptr<AccountCharge> worker_threads);
    ~ClientSession();
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;

    uint64_t id() const { return id_; }
    const SessionOwner& owner() const { return owner_; }
    VDevice& vdevice() { return *vdevice_; }

    Expected<uint64_t> register_buffer(const std::string& shm_name, uint64_t size);
    Status release_buffer(uint64_t buffer_id);

    Expected<std::shared_ptr<LoadedModelEntry>> load_model(const v1::LoadModelRequest& request);
    Expected<std::vector<devices::TensorSpec>> output_dims(
        uint64_t loaded_model_id, const google::protobuf::RepeatedPtrField<v1::TensorSpec>& inputs);
    Expected<uint64_t> configure_model(const v1::ConfigureModelRequest& request);
    Status set_scheduling(uint64_t model_id, const v1::SchedulingParams& scheduling);
    Status shutdown_model(uint64_t model_id);
    Status release_model(uint64_t model_id);
    Status release_loaded_model(uint64_t loaded_model_id);
    std::vector<v1::ModelStats> scheduler_stats();
    std::vector<std::shared_ptr<ServedModel>> served_models() const;

    // Validates and submits one inference; exactly one Completion for its job_id follows.
    // Called on the stream's reader thread, or with `lane` on the session's fast-lane thread,
    // which runs the job itself when the client has no other frame in flight, a device slot is
    // free and the scheduler picks it at once. Then, as for a request refused at once, the
    // Completion is returned, for the caller to send (or write into the lane); otherwise it
    // comes through the outbox (or the lane) when the frames are done.
    std::optional<v1::ServerMessage> submit(const v1::InferRequest& request,
                                            std::shared_ptr<FastLaneServer> lane = nullptr);
    // Serves the registered buffer `buffer_id` (at least FAST_LANE_BYTES) as the session's fast
    // lane until release(). One per session.
    Status open_fast_lane(uint64_t buffer_id);
    CompletionOutbox& outbox() { return *outbox_; }

    // The session's one Session stream; false if it already has one.
    bool attach_stream();
    bool has_stream() const { return stream_attached_.load(); }

    // Shuts every model down (queued frames complete with SHUTDOWN), waits for running ones,
    // then drops models and regions. Idempotent.
    void release();

private:
    class Scope;
    Expected<std::shared_ptr<LoadedModelEntry>> find_loaded(uint64_t loaded_model_id) const;
    // RESOURCE_LIMIT for `count` models `state` ("loaded", "configured").
    Status models_over_limit(size_t count, const char* state, const char* release_call) const;
    Expected<std::shared_ptr<ServedModel>> find_served(uint64_t model_id) const;

    const uint64_t id_;
    const SessionOwner owner_;
    std::unique_ptr<VDevice> vdevice_;
    const DaemonLimits limits_;
    const std::shared_ptr<ClientAccount> account_;
    LoadMemoryMeter& load_memory_;
    const std::shared_ptr<AccountCharge> worker_threads_;  // the scheduler workers of the group
    std::shared_ptr<CompletionOutbox> outbox_ = std::make_shared<CompletionOutbox>();
    std::shared_ptr<std::atomic<uint64_t>> frames_in_flight_ =
        std::make_shared<std::atomic<uint64_t>>(0);
    std::atomic<bool> stream_attached_{false};

    mutable std::mutex mutex_;  // guards the maps below and the id counters
    bool released_ = false;
    uint64_t last_buffer_id_ = 0;
    uint64_t last_loaded_model_id_ = 0;
    uint64_t shm_bytes_ = 0;
    std::map<uint64_t, std::shared_ptr<SharedMemoryMapping>> buffers_;
    std::map<uint64_t, std::shared_ptr<LoadedModelEntry>> loaded_models_;
    std::map<uint64_t, std::shared_ptr<ServedModel>> served_models_;
    std::shared_ptr<FastLaneServer> fast_lane_;
};

// The proto Status of a corun Status (code as corun::StatusCode's number).
v1::Status to_proto(const Status& status);

}  // namespace corun::service
