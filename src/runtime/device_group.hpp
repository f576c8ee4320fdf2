// The state every VDevice handle of one group shares: the physical devices and the one
// scheduler in front of them. Within a process, one group_id is one DeviceGroup.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "corun/vdevice.hpp"
#include "devices/device.hpp"
#include "scheduler/scheduler.hpp"

namespace corun {

class DeviceGroup {
public:
    // The live group of params.group_id, or a new one. INVALID_ARGUMENT if the group is live
    // with different params.
    static Expected<std::shared_ptr<DeviceGroup>> acquire(const VDeviceParams& params);
    ~DeviceGroup();

    const VDeviceParams& params() const { return params_; }
    const std::vector<std::shared_ptr<devices::Device>>& devices() const { return devices_; }
    scheduler::Scheduler& scheduler() { return *scheduler_; }
    uint64_t next_model_id() { return ++last_model_id_; }

private:
    DeviceGroup(VDeviceParams params, std::vector<std::shared_ptr<devices::Device>> devices);

    VDeviceParams params_;
    std::vector<std::shared_ptr<devices::Device>> devices_;
    std::unique_ptr<scheduler::Scheduler> scheduler_;
    std::atomic<uint64_t> last_model_id_{0};
};

}  // namespace corun
