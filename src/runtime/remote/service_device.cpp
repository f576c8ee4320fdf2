#include "service/client/service_device.hpp"

namespace corun::service {

ServiceLoadedModel::ServiceLoadedModel(std::shared_ptr<ServiceConnection> connection,
                                       RemoteLoadedModel loaded)
    : connection_(std::move(connection)), loaded_(std::move(loaded)) {}

ServiceLoadedModel::~ServiceLoadedModel() {
    if (!connection_->is_broken()) {
        connection_->release_loaded_model(loaded_.loaded_model_id).ignore();
    }
}

Status ServiceLoadedModel::execute(const std::vector<devices::TensorSpec>&,
                                   const std::vector<devices::TensorSpec>&,
                                   std::span<const devices::FrameBuffers>) {
    return Status(StatusCode::INTERNAL_FAILURE,
                  "a model loaded in corund runs through its configured model's session stream, "
                  "not through LoadedModel::execute; this is a bug in corun");
}

Expected<std::vector<std::vector<int64_t>>> ServiceLoadedModel::infer_output_dims(
    const std::vector<devices::TensorSpec>& inputs) {
    return connection_->output_dims(loaded_.loaded_model_id, inputs);
}

ServiceDevice::ServiceDevice(std::shared_ptr<ServiceConnection> connection)
    : connection_(std::move(connection)) {}

DeviceDescription ServiceDevice::describe() const {
    DeviceDescription description;
    if (!connection_->devices().empty()) description = connection_->devices().front();
    if (description.id.empty()) description.id = "corund";
    if (description.kind.empty()) description.kind = "corund";
    description.architecture += ", shared through corund at " + connection_->socket();
    if (!connection_->fast_lane_status().is_ok()) {
        // Not an error (frames take the stream), but slower; say why.
        description.architecture +=
            " (no fast lane: " + connection_->fast_lane_status().message() + ")";
    }
    if (connection_->is_broken()) description.status = "corund went away";
    return description;
}

Expected<std::shared_ptr<devices::LoadedModel>> ServiceDevice::load_model(
    const devices::ModelSource& source) {
    CORUN_TRY(auto loaded, connection_->load_model(source));
    return std::shared_ptr<devices::LoadedModel>(
        std::make_shared<ServiceLoadedModel>(connection_, std::move(loaded)));
}

}  // namespace corun::service
