#include "runtime/monitor/group_recording.hpp"

#include "runtime/api_access.hpp"
#include "runtime/device_group.hpp"

namespace corun::runtime::monitor {

std::shared_ptr<DeviceGroup> group_of(const VDevice& vdevice) {
    return ApiAccess::group_of(vdevice);
}

Status start_recording(DeviceGroup& group, const scheduler::RecordingOptions& options) {
    return group.backend().start_recording(options);
}

TracedGroup stop_recording(DeviceGroup& group) {
    TracedGroup traced;
    traced.group_id = group.params().group_id;
    for (const DeviceDescription& device : group.backend().describe_devices()) {
        traced.device_names.push_back(device.id);
    }
    traced.recording = group.backend().stop_recording();
    return traced;
}

}  // namespace corun::runtime::monitor
