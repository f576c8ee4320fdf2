#include "runtime/remote/remote_backend.hpp"

#include <algorithm>

#include "devices/npu_sim/npu_timing_model.hpp"
#include "runtime/backend_registry.hpp"
#include "runtime/configured_pipeline.hpp"
#include "runtime/remote/remote_configured_model.hpp"
#include "runtime/remote/service_socket.hpp"

namespace corun::remote {
namespace {

// corund opens no path a client names: the client reads its npu-sim profile and sends the
// text. A profile that cannot be read fails only a group that asks for npu-sim.
Expected<VDeviceParams> with_npu_sim_profile_text(const VDeviceParams& params) {
    VDeviceParams sent = params;
    if (!sent.npu_sim.profile_json.empty()) return sent;
    const std::string path = devices::npu_sim::npu_profile_path(params.npu_sim.profile_path);
    if (path.empty()) return sent;
    auto text = devices::npu_sim::read_npu_profile_text(path);
    if (text) {
        sent.npu_sim.profile_json = text.release();
        return sent;
    }
    const bool asks_for_npu_sim =
        std::any_of(params.device_ids.begin(), params.device_ids.end(),
                    [](const std::string& id) { return id.rfind("npu-sim", 0) == 0; });
    if (asks_for_npu_sim) return text.status();
    return sent;
}

const runtime::BackendKind remote_kind{
    [](const VDeviceParams& params) {
        return "corund:" + service::resolve_service_socket(params) + "|" + params.group_id;
    },
    [](const VDeviceParams& params) {
        return ", service at " + service::resolve_service_socket(params);
    },
    [](const VDeviceParams& params) { return RemoteBackend::create(params); },
};

// Registered when this code is loaded: as the program starts when linked whole (corun_runtime),
// or inside dlopen() when the shared libcorun loads it as its plug-in libcorun_remote.so
// (runtime/remote_backend_plugin.cpp).
const bool registered = runtime::register_multi_process_backend(remote_kind);

}  // namespace

Expected<std::unique_ptr<runtime::Backend>> RemoteBackend::create(const VDeviceParams& params) {
    (void)registered;
    CORUN_TRY(const VDeviceParams sent, with_npu_sim_profile_text(params));
    CORUN_TRY(auto connection, service::ServiceConnection::connect(sent));
    return std::unique_ptr<runtime::Backend>(new RemoteBackend(std::move(connection)));
}

std::vector<DeviceDescription> RemoteBackend::describe_devices() const {
    std::vector<DeviceDescription> descriptions = connection_->devices();
    if (descriptions.empty()) {
        DeviceDescription daemon;
        daemon.id = "corund";
        daemon.kind = "corund";
        descriptions.push_back(std::move(daemon));
    }
    for (auto& description : descriptions) {
        description.architecture += ", shared through corund at " + connection_->socket();
        if (!connection_->fast_lane_status().is_ok()) {
            // Not an error (frames take the stream), but slower; say why.
            description.architecture +=
                " (no fast lane: " + connection_->fast_lane_status().message() + ")";
        }
        if (connection_->is_broken()) description.status = "corund went away";
    }
    return descriptions;
}

std::vector<ScheduledModelStats> RemoteBackend::scheduler_stats() const {
    auto stats = connection_->scheduler_stats();
    return stats ? stats.release() : std::vector<ScheduledModelStats>{};
}

uint32_t RemoteBackend::execution_slots() const {
    return static_cast<uint32_t>(std::max<size_t>(1, connection_->devices().size()));
}

Expected<std::shared_ptr<runtime::BackendModel>> RemoteBackend::load_model(
    const devices::ModelSource& source) {
    CORUN_TRY(auto loaded, connection_->load_model(source));
    return std::shared_ptr<runtime::BackendModel>(
        std::make_shared<RemoteModel>(connection_, std::move(loaded)));
}

RemoteModel::~RemoteModel() {
    if (!connection_->is_broken()) {
        connection_->release_loaded_model(loaded_.loaded_model_id).ignore();
    }
}

Expected<std::vector<std::vector<int64_t>>> RemoteModel::infer_output_dims(
    const std::vector<devices::TensorSpec>& inputs, const devices::FrameLimits&) {
    // corund runs the zero-filled frame within its own limits.
    return connection_->output_dims(loaded_.loaded_model_id, inputs);
}

Expected<std::unique_ptr<runtime::ModelExecution>> RemoteModel::configure(
    ConfiguredPipeline& pipeline) {
    for (const auto& stream : pipeline.streams) {
        if (stream.native.type != FormatType::STRING) continue;
        // A lane slot has a fixed size per stream; strings vary per frame.
        return Status(StatusCode::NOT_SUPPORTED,
                      "configure: " + std::string(stream.is_input ? "input '" : "output '") +
                          stream.name +
                          "' holds strings, which corund's shared-memory lanes cannot carry "
                          "(their slots have a fixed size per stream); run this model in-process "
                          "(a VDevice without multi_process_service)");
    }
    return RemoteConfiguredModel::create(connection_, *this, pipeline);
}

}  // namespace corun::remote
