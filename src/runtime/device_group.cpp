#include "runtime/device_group.hpp"

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include "devices/device_registry.hpp"
#include "devices/frame_watchdog.hpp"
#include "runtime/backend_registry.hpp"

namespace corun {
namespace {

// Never destroyed: the in-process monitor's sampler thread may read them while the process
// exits and static destructors run.
std::mutex& groups_mutex = *new std::mutex;
std::map<std::string, std::weak_ptr<DeviceGroup>>& live_groups() {
    static auto* groups = new std::map<std::string, std::weak_ptr<DeviceGroup>>;
    return *groups;
}

std::string describe_params(const VDeviceParams& params, const runtime::BackendKind& kind) {
    std::string ids;
    for (const auto& id : devices::DeviceRegistry::instance().resolved_ids(params))
        ids += (ids.empty() ? "" : ",") + id;
    return "devices [" + ids + "], scheduling " +
           (params.scheduling_algorithm == SchedulingAlgorithm::NONE ? "NONE" : "ROUND_ROBIN") +
           ", cpu threads " + std::to_string(params.cpu.intra_op_threads) + ", cpu slots " +
           (params.cpu.execution_slots == 0 ? std::string("auto")
                                            : std::to_string(params.cpu.execution_slots)) +
           " (+" + std::to_string(params.cpu.latency_slots) + " for latency)" + ", cpu spin wait " +
           (params.cpu.spin_wait ? "on" : "off") + ", fair device time " +
           (params.scheduler.fair_device_time ? "on" : "off") + ", aging step " +
           std::to_string(params.scheduler.aging_step.count()) + " ms, anticipation " +
           std::to_string(params.scheduler.anticipation.count()) + " us" + kind.describe(params);
}

Status validate(const VDeviceParams& params) {
    if (params.group_id.empty()) {
        return Status(
            StatusCode::INVALID_ARGUMENT,
            "group_id is empty; leave it as DEFAULT_GROUP_ID (\"SHARED\") or name a group");
    }
    if (params.device_ids.empty() && (params.device_count == 0 || params.device_count > 64)) {
        return Status(StatusCode::INVALID_ARGUMENT, "device_count is " +
                                                        std::to_string(params.device_count) +
                                                        "; it must be 1..64 (or list device_ids)");
    }
    if (params.scheduler.anticipation.count() < 0 ||
        params.scheduler.anticipation > MAX_ANTICIPATION) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "scheduler.anticipation is " +
                          std::to_string(params.scheduler.anticipation.count()) +
                          " us; it must be 0.." + std::to_string(MAX_ANTICIPATION.count()) +
                          " us (0 = decide at once; a client's next frame comes within about "
                          "200 us)");
    }
    std::set<std::string> seen;
    for (const auto& id : params.device_ids) {
        if (!seen.insert(id).second) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "device '" + id + "' is listed twice in device_ids");
        }
    }
    return Status::ok();
}

}  // namespace

Expected<std::shared_ptr<DeviceGroup>> DeviceGroup::acquire(const VDeviceParams& params) {
    CORUN_RETURN_IF_ERROR(validate(params));
    CORUN_TRY(const runtime::BackendKind* kind, runtime::backend_kind_for(params));
    std::lock_guard lock(groups_mutex);
    auto& groups = live_groups();
    const std::string key = kind->group_key(params);
    if (auto found = groups.find(key); found != groups.end()) {
        auto group = found->second.lock();
        if (group && !group->backend().is_usable()) group.reset();
        if (group) {
            const std::string live_params = describe_params(group->params(), *kind);
            const std::string asked = describe_params(params, *kind);
            if (live_params != asked) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              "VDevice group '" + params.group_id + "' is already open with " +
                                  live_params + "; this call asks for " + asked +
                                  ". Use the same params, or another group_id for a separate "
                                  "device group");
            }
            return group;
        }
    }
    CORUN_TRY(auto backend, kind->create(params));
    std::shared_ptr<DeviceGroup> group(new DeviceGroup(params, std::move(backend)));
    groups[key] = group;
    return group;
}

void DeviceGroup::stop_all_at_exit() {
    static std::once_flag registered;
    std::call_once(registered, [] {
        std::atexit([] {
            devices::FrameWatchdog::instance().terminate_all();
            // Held until every group is stopped: a worker must not drop the last reference to a
            // group that this handler is stopping.
            const auto groups = live();
            for (const auto& group : groups) group->backend().stop_at_exit();
        });
    });
}

std::vector<std::shared_ptr<DeviceGroup>> DeviceGroup::live() {
    std::lock_guard lock(groups_mutex);
    std::vector<std::shared_ptr<DeviceGroup>> groups;
    for (const auto& [key, weak] : live_groups()) {
        if (auto group = weak.lock()) groups.push_back(std::move(group));
    }
    return groups;
}

}  // namespace corun
