// What every VDevice handle of one group shares: its params and its backend. Within a process,
// one group key (backend_registry.hpp) is one DeviceGroup.
#pragma once

#include <memory>
#include <vector>

#include "corun/vdevice.hpp"
#include "runtime/backend.hpp"

namespace corun {

class DeviceGroup {
public:
    // The live group of these params, or a new one. INVALID_ARGUMENT if the group is live with
    // different params. A group whose backend can serve no more (corund went away) stays with
    // the handles that hold it, and a new handle gets a fresh backend (how clients reconnect
    // after a restart of corund).
    static Expected<std::shared_ptr<DeviceGroup>> acquire(const VDeviceParams& params);
    // Every group alive in this process.
    static std::vector<std::shared_ptr<DeviceGroup>> live();
    // Registers, once per process, an exit handler that stops every group (Backend::
    // stop_at_exit) before ONNX Runtime's statics are destroyed. Called when a model is
    // configured: exit handlers run in reverse order of registration, and this one must run
    // before the destructors of the statics ONNX Runtime created while loading the model.
    static void stop_all_at_exit();

    const VDeviceParams& params() const { return params_; }
    runtime::Backend& backend() const { return *backend_; }

private:
    DeviceGroup(VDeviceParams params, std::unique_ptr<runtime::Backend> backend)
        : params_(std::move(params)), backend_(std::move(backend)) {}

    VDeviceParams params_;
    std::unique_ptr<runtime::Backend> backend_;
};

}  // namespace corun
