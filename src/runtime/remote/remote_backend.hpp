// The remote backend: a VDevice group whose devices and scheduler live in corund, shared by
// every process connected to it. Models load there once; frames go through the session's
// shared memory (remote_configured_model.hpp). It registers itself as the backend of
// multi_process_service when a program linking corun_runtime_remote starts.
#pragma once

#include <memory>

#include "runtime/backend.hpp"
#include "runtime/remote/service_connection.hpp"

namespace corun::remote {

class RemoteBackend final : public runtime::Backend {
public:
    // Connects to corund (resolve_service_socket) with params; the client reads the npu-sim
    // profile itself and sends its text (corund opens no path a client names).
    static Expected<std::unique_ptr<runtime::Backend>> create(const VDeviceParams& params);

    // The daemon's devices, each with the socket named in its architecture.
    std::vector<DeviceDescription> describe_devices() const override;
    // This session's models in the daemon's scheduler; empty once the daemon went away (the
    // models' own calls then say so with RPC_FAILED).
    std::vector<ScheduledModelStats> scheduler_stats() const override;
    uint32_t execution_slots() const override;
    bool is_usable() const override { return !connection_->is_broken(); }
    Expected<std::shared_ptr<runtime::BackendModel>> load_model(
        const devices::ModelSource& source) override;
    void stop_at_exit() override { connection_->close(); }

    // The session with corund, for what else the group hosts there (LLMs).
    const std::shared_ptr<service::ServiceConnection>& connection() const { return connection_; }

private:
    explicit RemoteBackend(std::shared_ptr<service::ServiceConnection> connection)
        : connection_(std::move(connection)) {}

    std::shared_ptr<service::ServiceConnection> connection_;
};

// A model loaded in corund: its declared tensors and output shapes come from the daemon.
class RemoteModel final : public runtime::BackendModel {
public:
    RemoteModel(std::shared_ptr<service::ServiceConnection> connection,
                service::RemoteLoadedModel loaded)
        : connection_(std::move(connection)), loaded_(std::move(loaded)) {}
    // Releases the model in the daemon (errors ignored: a gone daemon released it already).
    ~RemoteModel() override;

    const std::vector<devices::DeclaredTensor>& declared_inputs() const override {
        return loaded_.declared_inputs;
    }
    const std::vector<devices::DeclaredTensor>& declared_outputs() const override {
        return loaded_.declared_outputs;
    }
    Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<devices::TensorSpec>& inputs,
        const devices::FrameLimits& limits) override;
    Expected<std::unique_ptr<runtime::ModelExecution>> configure(
        ConfiguredPipeline& pipeline) override;

    uint64_t loaded_model_id() const { return loaded_.loaded_model_id; }

private:
    std::shared_ptr<service::ServiceConnection> connection_;
    service::RemoteLoadedModel loaded_;
};

}  // namespace corun::remote
