// The service seen as a device: loading a model on it loads it in corund, whose declared
// tensors and output shapes then come from the daemon. Frames never execute through this
// interface: a configured model of a service group sends them on the session stream
// (runtime/remote_configured_model), so execute() only reports misuse.
#pragma once

#include <memory>

#include "devices/device.hpp"
#include "service/client/service_connection.hpp"

namespace corun::service {

class ServiceLoadedModel : public devices::LoadedModel {
public:
    ServiceLoadedModel(std::shared_ptr<ServiceConnection> connection, RemoteLoadedModel loaded);
    // Releases the model in the daemon (errors ignored: a gone daemon released it already).
    ~ServiceLoadedModel() override;

    const std::vector<devices::DeclaredTensor>& declared_inputs() const override {
        return loaded_.declared_inputs;
    }
    const std::vector<devices::DeclaredTensor>& declared_outputs() const override {
        return loaded_.declared_outputs;
    }
    Status execute(const std::vector<devices::TensorSpec>& inputs,
                   const std::vector<devices::TensorSpec>& outputs,
                   std::span<const devices::FrameBuffers> frames) override;
    Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<devices::TensorSpec>& inputs) override;

    uint64_t loaded_model_id() const { return loaded_.loaded_model_id; }

private:
    std::shared_ptr<ServiceConnection> connection_;
    RemoteLoadedModel loaded_;
};

class ServiceDevice : public devices::Device {
public:
    explicit ServiceDevice(std::shared_ptr<ServiceConnection> connection);

    // The daemon's first device, with the socket named in its architecture.
    DeviceDescription describe() const override;
    uint32_t execution_slots() const override { return 1; }
    Expected<std::shared_ptr<devices::LoadedModel>> load_model(
        const devices::ModelSource& source) override;

private:
    std::shared_ptr<ServiceConnection> connection_;
};

}  // namespace corun::service
