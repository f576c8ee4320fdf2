// The state every VDevice handle of one group shares: the physical devices and the one
// scheduler in front of them. Within a process, one group_id is one DeviceGroup. A service
// group (params.multi_process_service) has neither here: its connection to corund stands for
// them, and the daemon's scheduler runs its models.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "corun/vdevice.hpp"
#include "devices/device.hpp"
#include "scheduler/scheduler.hpp"

namespace corun {

namespace service {
class ServiceConnection;
}

class DeviceGroup {
public:
    // The live group of params.group_id, or a new one. INVALID_ARGUMENT if the group is live
    // with different params. A service group is keyed by socket and group_id, and one whose
    // daemon went away is replaced by a fresh connection (how clients reconnect after a
    // restart of corund).
    static Expected<std::shared_ptr<DeviceGroup>> acquire(const VDeviceParams& params);
    // Every group alive in this process (for the in-process monitor).
    static std::vector<std::shared_ptr<DeviceGroup>> live();
    // Registers, once per process, an exit handler that stops every in-process group before
    // ONNX Runtime's statics are destroyed: running frames are terminated (ABORTED), queued ones
    // complete with SHUTDOWN, and the workers end (waited for up to 5 s), so that no worker runs
    // a frame, or drops the last reference to a session, while the process tears itself down.
    // Called by configure(): exit handlers run in reverse order of registration, and this one
    // must run before the destructors of the statics ORT created while loading the model.
    static void stop_all_at_exit();
    ~DeviceGroup();

    const VDeviceParams& params() const { return params_; }
    const std::vector<std::shared_ptr<devices::Device>>& devices() const { return devices_; }
    // The in-process scheduler; a service group has none (is_service()).
    scheduler::Scheduler& scheduler() { return *scheduler_; }
    bool is_service() const { return service_ != nullptr; }
    // The in-process scheduler's per-model figures in the public form (not for service groups).
    std::vector<ScheduledModelStats> scheduled_model_stats() const;
    // The connection to corund of a service group; null in-process.
    const std::shared_ptr<service::ServiceConnection>& service() const { return service_; }
    // What VDevice::physical_devices() lists: the local devices, or the daemon's.
    std::vector<DeviceDescription> describe_devices() const;
    uint64_t next_model_id() { return ++last_model_id_; }

private:
    DeviceGroup(VDeviceParams params, std::vector<std::shared_ptr<devices::Device>> devices);
    DeviceGroup(VDeviceParams params, std::shared_ptr<service::ServiceConnection> service);

    VDeviceParams params_;
    std::vector<std::shared_ptr<devices::Device>> devices_;
    std::shared_ptr<service::ServiceConnection> service_;
    std::unique_ptr<scheduler::Scheduler> scheduler_;
    std::atomic<uint64_t> last_model_id_{0};
};

}  // namespace corun
