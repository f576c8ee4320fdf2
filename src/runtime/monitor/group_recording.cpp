#include "runtime/monitor/group_recording.hpp"

#include <thread>

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

Expected<std::string> record_live_groups(std::chrono::nanoseconds duration,
                                         const scheduler::RecordingOptions& options,
                                         const std::function<bool()>& cancelled) {
    if (options.max_events == 0 || options.max_events > scheduler::MAX_RECORDING_EVENTS) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "a recording holds 1.." + std::to_string(scheduler::MAX_RECORDING_EVENTS) +
                          " events per device group, asked for " +
                          std::to_string(options.max_events));
    }
    // Holding the groups keeps their schedulers alive until their recordings are taken, even if
    // every handle of one goes away meanwhile.
    std::vector<std::shared_ptr<DeviceGroup>> recorded;
    for (const auto& group : DeviceGroup::live()) {
        const Status started = start_recording(*group, options);
        if (started.code() == StatusCode::NOT_SUPPORTED) continue;  // runs in corund
        if (!started) {
            for (const auto& done : recorded) stop_recording(*done);
            return started;
        }
        recorded.push_back(group);
    }
    const auto until = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < until && !cancelled()) {
        std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
            std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
    }
    std::vector<TracedGroup> traced;
    for (const auto& group : recorded) traced.push_back(stop_recording(*group));
    return chrome_trace_json(traced);
}

}  // namespace corun::runtime::monitor
