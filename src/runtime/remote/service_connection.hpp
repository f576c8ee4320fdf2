// One client's connection to corund: the channel to its Unix socket, the Hello that checks the
// protocol version and opens the device group, a typed call for each control RPC (each with a
// deadline; a gRPC failure becomes RPC_FAILED naming the socket and the fix), and the Session
// stream that carries inferences. Once the daemon is gone, every call fails at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "corun/vdevice.hpp"
#include "devices/device.hpp"
#include "protocol/proto_conversion.hpp"
#include "runtime/remote/fast_lane_client.hpp"
#include "runtime/remote/lane_ring_client.hpp"
#include "runtime/remote/session_stream.hpp"

namespace corun::service {

// A scheduler timeout as the protocol's uint32 milliseconds; INVALID_ARGUMENT outside
// 0..4294967295 ms.
inline Expected<uint32_t> timeout_milliseconds(std::chrono::milliseconds timeout) {
    if (timeout.count() < 0 || timeout.count() > std::numeric_limits<uint32_t>::max()) {
        return Status(
            StatusCode::INVALID_ARGUMENT,
            "the timeout must be from 0 to 4294967295 ms, not " + std::to_string(timeout.count()));
    }
    return static_cast<uint32_t>(timeout.count());
}

// What LoadModel answers: the daemon's handle and the tensors as the model declares them.
struct RemoteLoadedModel {
    uint64_t loaded_model_id = 0;
    std::vector<devices::DeclaredTensor> declared_inputs;
    std::vector<devices::DeclaredTensor> declared_outputs;
};

// What ConfigureModel needs: one frame of each native tensor, fixed dims.
struct RemoteModelConfiguration {
    uint64_t loaded_model_id = 0;
    std::string name;
    std::vector<devices::TensorSpec> native_inputs;
    std::vector<devices::TensorSpec> native_outputs;
    uint32_t batch_size = 1;
    uint32_t queue_size = 2;
    SchedulingSettings scheduling;
    std::chrono::milliseconds frame_time_limit{0};  // 0 = corund's maximum
};

class ServiceConnection {
public:
    // Connects to the socket params resolve to (resolve_service_socket), says Hello with
    // `params`, and opens the session stream. RPC_FAILED naming the socket when no daemon
    // answers there; PROTOCOL_MISMATCH naming both versions when they differ.
    static Expected<std::shared_ptr<ServiceConnection>> connect(const VDeviceParams& params);
    ~ServiceConnection();
    ServiceConnection(const ServiceConnection&) = delete;
    ServiceConnection& operator=(const ServiceConnection&) = delete;

    const std::string& socket() const { return socket_; }
    uint64_t session_id() const { return session_id_; }
    const std::string& daemon_version() const { return daemon_version_; }
    // The daemon's devices behind this group, as its Hello reply listed them.
    const std::vector<DeviceDescription>& devices() const { return devices_; }
    // True once the daemon went away: the connection stays broken, make a new one.
    bool is_broken() const;
    // Ends the session (corund releases what it holds); later calls fail. Idempotent.
    void close();

    Expected<uint64_t> register_buffer(const std::string& shm_name, uint64_t size);
    Status release_buffer(uint64_t buffer_id);
    Expected<RemoteLoadedModel> load_model(const devices::ModelSource& source);
    Expected<std::vector<std::vector<int64_t>>> output_dims(
        uint64_t loaded_model_id, const std::vector<devices::TensorSpec>& inputs);
    Expected<uint64_t> configure_model(const RemoteModelConfiguration& configuration);
    Status set_scheduling_params(uint64_t model_id, const SchedulingSettings& settings);
    Status shutdown_model(uint64_t model_id);
    Status release_model(uint64_t model_id);
    Status release_loaded_model(uint64_t loaded_model_id);
    Expected<std::vector<ScheduledModelStats>> scheduler_stats();

    SessionStream& session() { return *session_; }
    // The session's fast lane for synchronous frames; nullptr when it could not be opened or
    // $CORUN_SERVICE_FAST_LANE is 0 (every frame then goes on the stream).
    FastLaneClient* fast_lane() { return fast_lane_.get(); }
    // Why there is none (SUCCESS when there is, or when it is switched off); the device
    // description says it.
    const Status& fast_lane_status() const { return fast_lane_status_; }
    // The lane ring for every other job, in the lane's region; nullptr exactly when there is no
    // fast lane.
    LaneRingClient* lane_ring() { return lane_ring_.get(); }
    // Forgets a job sent on the ring or the stream (see SessionStream::abandon).
    bool abandon(uint64_t job_id);

    // For the calls of LLMs (remote_llm_session.cpp), made outside this class: the stub, what a
    // finished call means (a gRPC failure becomes RPC_FAILED naming the socket, and marks the
    // daemon gone when it is; else the daemon's own Status), and the error once it is gone.
    v1::Corun::Stub& stub() { return *stub_; }
    Status call_outcome(const char* name, const grpc::Status& status, const v1::Status& reply);
    Status gone() const;
    // The deadline of a control call of a generative model's session (open, clear, close).
    static constexpr std::chrono::seconds CONTROL_DEADLINE{30};
    // Runs one unary call with `deadline`; the daemon's own Status comes from the reply.
    template <typename Request, typename Reply, typename Method>
    Status call(const char* name, Method method, const Request& request, Reply& reply,
                std::chrono::seconds deadline) {
        if (is_broken()) return gone();
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + deadline);
        const grpc::Status status = (stub_.get()->*method)(&context, request, &reply);
        return call_outcome(name, status, reply.status());
    }

private:
    ServiceConnection() = default;
    // A call that names one model of the session (ModelRequest -> Reply).
    template <typename Method>
    Status model_call(const char* name, Method method, uint64_t model_id,
                      std::chrono::seconds deadline);
    // Registers a page and has the daemon serve it as this session's fast lane.
    Status open_fast_lane();

    std::string socket_;
    uint64_t session_id_ = 0;
    std::string daemon_version_;
    std::vector<DeviceDescription> devices_;
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<v1::Corun::Stub> stub_;
    std::shared_ptr<SessionStream> session_;
    std::unique_ptr<FastLaneClient> fast_lane_;
    std::shared_ptr<LaneRingClient> lane_ring_;
    Status fast_lane_status_;
    std::atomic<bool> unreachable_{false};  // a control call found the daemon gone
};

}  // namespace corun::service
