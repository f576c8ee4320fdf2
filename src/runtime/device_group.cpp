#include "runtime/device_group.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include "devices/device_registry.hpp"
#include "devices/npu_sim/npu_timing_model.hpp"
#include "scheduler/model_scheduler.hpp"
#include "service/client/service_connection.hpp"
#include "service/client/service_device.hpp"
#include "service/client/service_socket.hpp"
#include "service/monitor/in_process_monitor.hpp"

namespace corun {
namespace {

// corund opens no path a client names: the client reads its npu-sim profile and sends the
// text. A profile that cannot be read fails only a group that asks for npu-sim.
Expected<VDeviceParams> with_npu_sim_profile_text(const VDeviceParams& params) {
    VDeviceParams sent = params;
    if (!sent.npu_sim.profile_json.empty()) return sent;
    const std::string path = devices::npu_sim::npu_profile_path(params.npu_sim.profile_path);
    if (path.empty()) return sent;
    auto text = devices::npu_sim::read_npu_profile_text(path);
    if (text) {
        sent.npu_sim.profile_json = text.release();
        return sent;
    }
    const bool asks_for_npu_sim =
        std::any_of(params.device_ids.begin(), params.device_ids.end(),
                    [](const std::string& id) { return id.rfind("npu-sim", 0) == 0; });
    if (asks_for_npu_sim) return text.status();
    return sent;
}

// Never destroyed: the in-process monitor's sampler thread may read them while the process
// exits and static destructors run.
std::mutex& groups_mutex = *new std::mutex;
std::map<std::string, std::weak_ptr<DeviceGroup>>& live_groups() {
    static auto* groups = new std::map<std::string, std::weak_ptr<DeviceGroup>>;
    return *groups;
}

// Nearest-rank percentile of nanosecond samples, in milliseconds; 0 without samples.
double percentile_ms(std::vector<int64_t>& samples, int percent) {
    if (samples.empty()) return 0;
    const size_t rank = (samples.size() * static_cast<size_t>(percent) + 99) / 100;
    const size_t index = rank == 0 ? 0 : rank - 1;
    std::nth_element(samples.begin(), samples.begin() + static_cast<ptrdiff_t>(index),
                     samples.end());
    return static_cast<double>(samples[index]) / 1e6;
}

// What the in-process monitor shows: every in-process group of this process.
std::vector<service::GroupSample> sample_live_groups() {
    std::vector<service::GroupSample> samples;
    for (const auto& group : DeviceGroup::live()) {
        if (group->is_service()) continue;  // corund monitors those
        service::GroupSample sample;
        sample.group_id = group->params().group_id;
        sample.devices = group->describe_devices();
        sample.slots = 0;
        for (const auto& device : group->devices()) sample.slots += device->execution_slots();
        sample.models = group->scheduled_model_stats();
        samples.push_back(std::move(sample));
    }
    return samples;
}

std::vector<std::string> resolved_device_ids(const VDeviceParams& params) {
    if (!params.device_ids.empty()) return params.device_ids;
    const std::string kind = devices::DeviceRegistry::instance().default_kind();
    std::vector<std::string> ids;
    for (uint32_t i = 0; i < params.device_count; ++i)
        ids.push_back(kind + ":" + std::to_string(i));
    return ids;
}

// In-process groups by group_id; service groups by socket and group_id, so that a process can
// use both, and several daemons, without their groups colliding.
std::string registry_key(const VDeviceParams& params) {
    if (!params.multi_process_service) return params.group_id;
    return "corund:" + service::resolve_service_socket(params) + "|" + params.group_id;
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
           std::to_string(params.scheduler.aging_step.count()) + " ms" +
           (params.multi_process_service ? ", service at " + service::resolve_service_socket(params)
                                         : std::string());
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
    const std::string key = registry_key(params);
    if (auto found = groups.find(key); found != groups.end()) {
        auto group = found->second.lock();
        // A service group whose daemon went away stays with the handles that hold it (their
        // calls fail with RPC_FAILED); a new handle gets a fresh connection.
        if (group && group->is_service() && group->service()->is_broken()) group.reset();
        if (group) {
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
    std::shared_ptr<DeviceGroup> group;
    if (params.multi_process_service) {
        CORUN_TRY(const VDeviceParams sent, with_npu_sim_profile_text(params));
        CORUN_TRY(auto connection, service::ServiceConnection::connect(sent));
        group.reset(new DeviceGroup(params, std::move(connection)));
    } else {
        std::vector<std::shared_ptr<devices::Device>> opened;
        for (const auto& id : resolved_device_ids(params)) {
            CORUN_TRY(auto device, devices::DeviceRegistry::instance().create(id, params));
            opened.push_back(std::move(device));
        }
        group.reset(new DeviceGroup(params, std::move(opened)));
    }
    groups[key] = group;
    if (!group->is_service() && service::monitoring_requested()) {
        service::start_in_process_monitor(sample_live_groups);
    }
    return group;
}

DeviceGroup::DeviceGroup(VDeviceParams params, std::shared_ptr<service::ServiceConnection> service)
    : params_(std::move(params)), service_(std::move(service)) {
    // One device stands for the daemon: models load there once, and run on whichever of the
    // daemon's devices its scheduler picks.
    devices_.push_back(std::make_shared<service::ServiceDevice>(service_));
}

std::vector<DeviceDescription> DeviceGroup::describe_devices() const {
    std::vector<DeviceDescription> descriptions;
    if (service_ && !service_->devices().empty()) {
        for (auto description : service_->devices()) {
            description.architecture += ", shared through corund at " + service_->socket();
            if (service_->is_broken()) description.status = "corund went away";
            descriptions.push_back(std::move(description));
        }
        return descriptions;
    }
    for (const auto& device : devices_) descriptions.push_back(device->describe());
    return descriptions;
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
    if (scheduler_) scheduler_->stop();
}

}  // namespace corun

namespace corun {

void DeviceGroup::stop_all_at_exit() {
    static std::once_flag registered;
    std::call_once(registered, [] {
        std::atexit([] {
            devices::FrameWatchdog::instance().terminate_all();
            // Held until every group is stopped: a worker must not drop the last reference to a
            // group that this handler is stopping.
            const auto groups = live();
            for (const auto& group : groups) {
                if (!group->is_service()) group->scheduler().stop_within(std::chrono::seconds(5));
                // A process that exits with a service group open ends its session cleanly,
                // so corund does not take the exit for a broken connection.
                if (group->is_service()) group->service()->close();
            }
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

std::vector<ScheduledModelStats> DeviceGroup::scheduled_model_stats() const {
    std::vector<ScheduledModelStats> all;
    if (!scheduler_) return all;
    for (auto& model : scheduler_->stats()) {
        ScheduledModelStats stats{model.model_id,     model.name,           model.params.priority,
                                  model.frames_done,  model.device_time_ns, model.switches_in,
                                  model.frames_queued};
        stats.frames_running = model.frames_running;
        stats.queue_capacity = 2 * model.params.burst;
        stats.latency_p50_ms = percentile_ms(model.recent_latency_ns, 50);
        stats.latency_p95_ms = percentile_ms(model.recent_latency_ns, 95);
        stats.max_overtaken_by = model.max_overtaken_by;
        all.push_back(std::move(stats));
    }
    return all;
}

}  // namespace corun
