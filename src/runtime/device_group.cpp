#include "runtime/device_group.hpp"

#include <map>
#include <mutex>
#include <set>

#include "devices/device_registry.hpp"
#include "scheduler/model_scheduler.hpp"

namespace corun {
namespace {

std::mutex groups_mutex;
std::map<std::string, std::weak_ptr<DeviceGroup>>& live_groups() {
    static std::map<std::string, std::weak_ptr<DeviceGroup>> groups;
    return groups;
}

std::vector<std::string> resolved_device_ids(const VDeviceParams& params) {
    if (!params.device_ids.empty()) return params.device_ids;
    const std::string kind = devices::DeviceRegistry::instance().default_kind();
    std::vector<std::string> ids;
    for (uint32_t i = 0; i < params.device_count; ++i)
        ids.push_back(kind + ":" + std::to_string(i));
    return ids;
}

std::string describe_params(const VDeviceParams& params) {
    std::string ids;
    for (const auto& id : resolved_device_ids(params)) ids += (ids.empty() ? "" : ",") + id;
    return "devices [" + ids + "], scheduling " +
           (params.scheduling_algorithm == SchedulingAlgorithm::NONE ? "NONE" : "ROUND_ROBIN") +
           ", cpu threads " + std::to_string(params.cpu.intra_op_threads) + ", cpu slots " +
           std::to_string(params.cpu.execution_slots) + " (+" +
           std::to_string(params.cpu.latency_slots) + " for latency)" + ", cpu spin wait " +
           (params.cpu.spin_wait ? "on" : "off") + ", fair device time " +
           (params.scheduler.fair_device_time ? "on" : "off") + ", aging step " +
           std::to_string(params.scheduler.aging_step.count()) + " ms";
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
    std::lock_guard lock(groups_mutex);
    auto& groups = live_groups();
    if (auto found = groups.find(params.group_id); found != groups.end()) {
        if (auto group = found->second.lock()) {
            if (describe_params(group->params()) != describe_params(params)) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              "VDevice group '" + params.group_id + "' is already open with " +
                                  describe_params(group->params()) + "; this call asks for " +
                                  describe_params(params) +
                                  ". Use the same params, or another group_id for a separate "
                                  "device group");
            }
            return group;
        }
    }
    std::vector<std::shared_ptr<devices::Device>> opened;
    for (const auto& id : resolved_device_ids(params)) {
        CORUN_TRY(auto device, devices::DeviceRegistry::instance().create(id, params));
        opened.push_back(std::move(device));
    }
    std::shared_ptr<DeviceGroup> group(new DeviceGroup(params, std::move(opened)));
    groups[params.group_id] = group;
    return group;
}

DeviceGroup::DeviceGroup(VDeviceParams params,
                         std::vector<std::shared_ptr<devices::Device>> devices)
    : params_(std::move(params)), devices_(std::move(devices)) {
    std::vector<scheduler::DeviceSlots> slots;
    for (const auto& device : devices_) {
        // Without a scheduler HailoRT runs one model at a time; so does corun.
        if (params_.scheduling_algorithm == SchedulingAlgorithm::NONE) {
            slots.push_back({1, 0});
        } else {
            slots.push_back({device->execution_slots(), device->latency_slots()});
        }
    }
    scheduler::PolicyOptions options;
    options.fair_device_time = params_.scheduler.fair_device_time;
    options.aging_step = params_.scheduler.aging_step;
    options.arrival_order = params_.scheduling_algorithm == SchedulingAlgorithm::NONE;
    scheduler_ = std::make_unique<scheduler::ModelScheduler>(slots, options);
}

DeviceGroup::~DeviceGroup() {
    scheduler_->stop();
}

}  // namespace corun
