#include "runtime/remote/service_connection.hpp"

#include <unistd.h>

#include <cstdlib>

#include "protocol/protocol_version.hpp"
#include "runtime/remote/rpc_status.hpp"
#include "runtime/remote/service_socket.hpp"

namespace corun::service {
namespace {

// Deadlines per kind of call: control calls answer at once; loading builds an ONNX Runtime
// session; shutting a model down waits for its running frames.
constexpr std::chrono::seconds CONTROL_DEADLINE{30};
constexpr std::chrono::seconds LOAD_DEADLINE{300};
constexpr std::chrono::seconds SHUTDOWN_DEADLINE{120};

std::string process_name() {
    char path[256] = {};
    const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (length <= 0) return "pid " + std::to_string(getpid());
    std::string name(path, static_cast<size_t>(length));
    return name.substr(name.find_last_of('/') + 1);
}

}  // namespace

Expected<std::shared_ptr<ServiceConnection>> ServiceConnection::connect(
    const VDeviceParams& params) {
    std::shared_ptr<ServiceConnection> connection(new ServiceConnection());
    connection->socket_ = resolve_service_socket(params);
    const std::string& socket = connection->socket_;
    // Our own connect(): it names the cause (no socket, refused, permission) where gRPC would
    // say UNAVAILABLE, checks who listens before anything is sent, and reads corund's
    // admission line; gRPC then takes the checked socket.
    CORUN_TRY(const int fd, connect_to_corund(socket, params.service_user));
    grpc::ChannelArguments arguments;
    arguments.SetMaxSendMessageSize(-1);  // LoadModel carries the whole model file
    arguments.SetMaxReceiveMessageSize(-1);
    connection->channel_ = grpc::CreateCustomInsecureChannelFromFd("unix:" + socket, fd, arguments);
    connection->stub_ = v1::Corun::NewStub(connection->channel_);

    v1::HelloRequest hello;
    hello.set_protocol_version(PROTOCOL_VERSION);
    hello.set_client_version(CORUN_VERSION_STRING);
    to_proto(params, *hello.mutable_params());
    hello.set_process_name(process_name());
    v1::HelloReply reply;
    CORUN_RETURN_IF_ERROR(
        connection->call("Hello", &v1::Corun::Stub::Hello, hello, reply, CONTROL_DEADLINE));
    if (reply.protocol_version() != PROTOCOL_VERSION) {
        return Status(StatusCode::PROTOCOL_MISMATCH,
                      "corund at " + socket + " speaks protocol version " +
                          std::to_string(reply.protocol_version()) + " (corun " +
                          reply.daemon_version() + "), this client speaks version " +
                          std::to_string(PROTOCOL_VERSION) +
                          " (corun " CORUN_VERSION_STRING
                          "); run a client and a daemon from the same corun release");
    }
    connection->session_id_ = reply.session_id();
    connection->daemon_version_ = reply.daemon_version();
    for (const auto& device : reply.devices()) connection->devices_.push_back(from_proto(device));
    CORUN_TRY(connection->session_,
              SessionStream::open(connection->channel_, connection->session_id_, socket));
    if (environment::service_fast_lane_enabled(params)) {
        // An optimisation only: without a lane every frame goes on the stream.
        connection->fast_lane_status_ = connection->open_fast_lane();
    }
    return connection;
}

Status ServiceConnection::open_fast_lane() {
    CORUN_TRY(auto lane, FastLaneClient::create());
    CORUN_TRY(const uint64_t buffer_id, register_buffer(lane->region().name(), FAST_LANE_BYTES));
    lane->region().unlink();
    v1::OpenFastLaneRequest request;
    request.set_session_id(session_id_);
    request.set_buffer_id(buffer_id);
    v1::Reply reply;
    CORUN_RETURN_IF_ERROR(
        call("OpenFastLane", &v1::Corun::Stub::OpenFastLane, request, reply, CONTROL_DEADLINE));
    // The stream, not a failed control call, says the daemon is gone (as for the lane).
    lane_ring_ = LaneRingClient::start(
        lane->shared_region(), [session = session_] { return session->is_broken(); }, socket_);
    fast_lane_ = std::move(lane);
    return Status::ok();
}

ServiceConnection::~ServiceConnection() {
    close();
}

void ServiceConnection::close() {
    if (lane_ring_) lane_ring_->close();
    // Ending the stream tells the daemon to release everything of this session.
    if (session_) session_->close();
}

bool ServiceConnection::abandon(uint64_t job_id) {
    return (lane_ring_ && lane_ring_->abandon(job_id)) || session_->abandon(job_id);
}

bool ServiceConnection::is_broken() const {
    return unreachable_.load() || (session_ && session_->is_broken());
}

Status ServiceConnection::gone() const {
    return Status(StatusCode::RPC_FAILED, daemon_gone_message(socket_));
}

Status ServiceConnection::call_outcome(const char* name, const grpc::Status& status,
                                       const v1::Status& reply) {
    if (!status.ok()) {
        if (status.error_code() == grpc::StatusCode::UNAVAILABLE) unreachable_ = true;
        return rpc_failure(status, name, socket_);
    }
    return from_proto(reply);
}

Expected<uint64_t> ServiceConnection::register_buffer(const std::string& shm_name, uint64_t size) {
    v1::RegisterBufferRequest request;
    request.set_session_id(session_id_);
    request.set_shm_name(shm_name);
    request.set_size(size);
    v1::RegisterBufferReply reply;
    CORUN_RETURN_IF_ERROR(
        call("RegisterBuffer", &v1::Corun::Stub::RegisterBuffer, request, reply, CONTROL_DEADLINE));
    return reply.buffer_id();
}

Status ServiceConnection::release_buffer(uint64_t buffer_id) {
    v1::ReleaseBufferRequest request;
    request.set_session_id(session_id_);
    request.set_buffer_id(buffer_id);
    v1::Reply reply;
    return call("ReleaseBuffer", &v1::Corun::Stub::ReleaseBuffer, request, reply, CONTROL_DEADLINE);
}

Expected<RemoteLoadedModel> ServiceConnection::load_model(const devices::ModelSource& source) {
    const std::string& name = source.name;
    v1::LoadModelRequest request;
    request.set_session_id(session_id_);
    request.set_name(name);
    request.set_onnx(source.onnx.data(), source.onnx.size());
    // corund never opens a file a model names: its external data travels with it.
    for (const auto& file : source.external_data) {
        v1::ExternalDataFile* sent = request.add_external_data();
        sent->set_location(file.location);
        sent->set_content(file.content.data(), file.content.size());
    }
    v1::LoadModelReply reply;
    CORUN_RETURN_IF_ERROR(
        call("LoadModel", &v1::Corun::Stub::LoadModel, request, reply, LOAD_DEADLINE));
    RemoteLoadedModel loaded;
    loaded.loaded_model_id = reply.loaded_model_id();
    for (const auto& tensor : reply.declared_inputs())
        loaded.declared_inputs.push_back(from_proto(tensor));
    for (const auto& tensor : reply.declared_outputs())
        loaded.declared_outputs.push_back(from_proto(tensor));
    if (loaded.declared_inputs.empty() || loaded.declared_outputs.empty()) {
        return Status(StatusCode::INTERNAL_FAILURE,
                      "corund loaded model '" + name + "' but declared " +
                          std::to_string(loaded.declared_inputs.size()) + " inputs and " +
                          std::to_string(loaded.declared_outputs.size()) +
                          " outputs; a model needs at least one of each");
    }
    return loaded;
}

Expected<std::vector<std::vector<int64_t>>> ServiceConnection::output_dims(
    uint64_t loaded_model_id, const std::vector<devices::TensorSpec>& inputs) {
    v1::OutputDimsRequest request;
    request.set_session_id(session_id_);
    request.set_loaded_model_id(loaded_model_id);
    for (const auto& input : inputs) to_proto(input, *request.add_inputs());
    v1::OutputDimsReply reply;
    CORUN_RETURN_IF_ERROR(
        call("OutputDims", &v1::Corun::Stub::OutputDims, request, reply, LOAD_DEADLINE));
    std::vector<std::vector<int64_t>> dims;
    for (const auto& output : reply.outputs())
        dims.emplace_back(output.dims().begin(), output.dims().end());
    return dims;
}

Expected<uint64_t> ServiceConnection::configure_model(
    const RemoteModelConfiguration& configuration) {
    v1::ConfigureModelRequest request;
    request.set_session_id(session_id_);
    request.set_loaded_model_id(configuration.loaded_model_id);
    request.set_name(configuration.name);
    for (const auto& tensor : configuration.native_inputs)
        to_proto(tensor, *request.add_native_inputs());
    for (const auto& tensor : configuration.native_outputs)
        to_proto(tensor, *request.add_native_outputs());
    request.set_batch_size(configuration.batch_size);
    request.set_queue_size(configuration.queue_size);
    request.set_frame_time_limit_ms(static_cast<uint64_t>(configuration.frame_time_limit.count()));
    to_proto(configuration.scheduling, *request.mutable_scheduling());
    v1::ConfigureModelReply reply;
    CORUN_RETURN_IF_ERROR(
        call("ConfigureModel", &v1::Corun::Stub::ConfigureModel, request, reply, LOAD_DEADLINE));
    return reply.model_id();
}

Status ServiceConnection::set_scheduling_params(uint64_t model_id,
                                                const SchedulingSettings& settings) {
    v1::SetSchedulingParamsRequest request;
    request.set_session_id(session_id_);
    request.set_model_id(model_id);
    to_proto(settings, *request.mutable_scheduling());
    v1::Reply reply;
    return call("SetSchedulingParams", &v1::Corun::Stub::SetSchedulingParams, request, reply,
                CONTROL_DEADLINE);
}

template <typename Method>
Status ServiceConnection::model_call(const char* name, Method method, uint64_t model_id,
                                     std::chrono::seconds deadline) {
    v1::ModelRequest request;
    request.set_session_id(session_id_);
    request.set_model_id(model_id);
    v1::Reply reply;
    return call(name, method, request, reply, deadline);
}

Status ServiceConnection::shutdown_model(uint64_t model_id) {
    return model_call("ShutdownModel", &v1::Corun::Stub::ShutdownModel, model_id,
                      SHUTDOWN_DEADLINE);
}

Status ServiceConnection::release_model(uint64_t model_id) {
    return model_call("ReleaseModel", &v1::Corun::Stub::ReleaseModel, model_id, SHUTDOWN_DEADLINE);
}

Status ServiceConnection::release_loaded_model(uint64_t loaded_model_id) {
    return model_call("ReleaseLoadedModel", &v1::Corun::Stub::ReleaseLoadedModel, loaded_model_id,
                      CONTROL_DEADLINE);
}

Expected<std::vector<ScheduledModelStats>> ServiceConnection::scheduler_stats() {
    v1::SessionRequest request;
    request.set_session_id(session_id_);
    v1::SchedulerStatsReply reply;
    CORUN_RETURN_IF_ERROR(
        call("SchedulerStats", &v1::Corun::Stub::SchedulerStats, request, reply, CONTROL_DEADLINE));
    std::vector<ScheduledModelStats> all;
    for (const auto& model : reply.models()) all.push_back(from_proto(model));
    return all;
}

}  // namespace corun::service
