// Device kinds register here by name ("cpu", later "npu-sim", "cuda", "hailo"); the runtime
// creates devices from ids such as "cpu:0" without knowing the kinds.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "devices/device.hpp"

namespace corun::devices {

struct DeviceKind {
    std::string name;  // the id prefix: "cpu"
    std::function<std::vector<DeviceDescription>()> enumerate;
    std::function<Expected<std::shared_ptr<Device>>(const std::string& id,
                                                    const VDeviceParams& params)>
        create;
};

class DeviceRegistry {
public:
    static DeviceRegistry& instance();  // with the built-in kinds registered
    void add(DeviceKind kind);
    std::vector<std::string> kind_names() const;
    std::vector<DeviceDescription> enumerate() const;
    // "cpu:0" -> the cpu kind's device 0. NOT_FOUND names the known kinds and ids.
    Expected<std::shared_ptr<Device>> create(const std::string& id,
                                             const VDeviceParams& params) const;
    std::string default_kind() const { return "cpu"; }
    // The ids a VDevice's params name: device_ids, else device_count of the default kind.
    std::vector<std::string> resolved_ids(const VDeviceParams& params) const;

private:
    std::vector<DeviceKind> kinds_;
};

}  // namespace corun::devices
