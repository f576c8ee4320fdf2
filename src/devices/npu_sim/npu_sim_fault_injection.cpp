#include "devices/npu_sim/npu_sim_fault_injection.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

namespace corun::devices::npu_sim::test_double {
namespace {

struct GroupFaults {
    Status failure;  // SUCCESS: bursts do not fail
    bool stalled = false;
    size_t bursts_waiting = 0;
};

// Process-wide: devices and tests meet here by group id.
struct FaultRegistry {
    std::mutex mutex;
    std::condition_variable changed;
    std::map<std::string, GroupFaults> groups;
    // Set while any group has a fault, so a device in normal use takes no lock per burst.
    std::atomic<bool> any_armed{false};

    static FaultRegistry& instance() {
        static FaultRegistry registry;
        return registry;
    }
    // Under the lock.
    void update_armed() {
        bool armed = false;
        for (const auto& [group, faults] : groups) {
            armed = armed || !faults.failure.is_ok() || faults.stalled || faults.bursts_waiting;
        }
        any_armed.store(armed);
    }
};

}  // namespace

void NpuSimFaultInjection::fail_bursts(const std::string& group_id, Status failure) {
    auto& registry = FaultRegistry::instance();
    std::lock_guard lock(registry.mutex);
    if (failure.is_ok()) {
        failure = Status(StatusCode::INTERNAL_FAILURE,
                         "NpuSimFaultInjection::fail_bursts was armed with SUCCESS; a test "
                         "double for a failure needs a failing status");
    }
    registry.groups[group_id].failure = std::move(failure);
    registry.update_armed();
}

void NpuSimFaultInjection::stall_bursts(const std::string& group_id) {
    auto& registry = FaultRegistry::instance();
    std::lock_guard lock(registry.mutex);
    registry.groups[group_id].stalled = true;
    registry.update_armed();
}

size_t NpuSimFaultInjection::stalled_bursts(const std::string& group_id) {
    auto& registry = FaultRegistry::instance();
    std::lock_guard lock(registry.mutex);
    auto found = registry.groups.find(group_id);
    return found == registry.groups.end() ? 0 : found->second.bursts_waiting;
}

void NpuSimFaultInjection::clear(const std::string& group_id) {
    auto& registry = FaultRegistry::instance();
    {
        std::lock_guard lock(registry.mutex);
        auto found = registry.groups.find(group_id);
        if (found == registry.groups.end()) return;
        found->second.failure = Status::ok();
        found->second.stalled = false;
        if (found->second.bursts_waiting == 0) registry.groups.erase(found);
        registry.update_armed();
    }
    registry.changed.notify_all();
}

Status NpuSimFaultInjection::before_burst(const std::string& group_id) {
    auto& registry = FaultRegistry::instance();
    if (!registry.any_armed.load()) return Status::ok();
    std::unique_lock lock(registry.mutex);
    auto found = registry.groups.find(group_id);
    if (found == registry.groups.end()) return Status::ok();
    if (found->second.stalled) {
        ++found->second.bursts_waiting;
        registry.changed.wait(lock, [&] { return !registry.groups[group_id].stalled; });
        GroupFaults& faults = registry.groups[group_id];
        --faults.bursts_waiting;
        const Status failure = faults.failure;
        if (faults.failure.is_ok() && !faults.stalled && faults.bursts_waiting == 0) {
            registry.groups.erase(group_id);
        }
        registry.update_armed();
        return failure;
    }
    return found->second.failure;
}

}  // namespace corun::devices::npu_sim::test_double
