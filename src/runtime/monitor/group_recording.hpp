// Recording a device group for a timeline (docs/TRACING.md): what `corun run2 --trace`,
// corund's Trace call and the in-process monitor use. The group's scheduler must run in this
// process (a group served by corund is recorded by corund).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "corun/vdevice.hpp"
#include "runtime/monitor/chrome_trace_writer.hpp"
#include "scheduler/scheduler_recording.hpp"

namespace corun {
class DeviceGroup;
}

namespace corun::runtime::monitor {

// A trace (corun trace, corund's Trace call, the in-process monitor) records at most ten
// minutes: longer recordings are better split, and the whole trace is held in memory until
// it is written.
constexpr uint32_t MAX_TRACE_SECONDS = 600;

// The group a VDevice handle belongs to; holding it keeps the group's scheduler alive.
std::shared_ptr<DeviceGroup> group_of(const VDevice& vdevice);

// INVALID_OPERATION while the group is being recorded already; NOT_SUPPORTED for a group that
// runs in corund.
Status start_recording(DeviceGroup& group, const scheduler::RecordingOptions& options);
// The group's recording with its id and device names; empty when none ran.
TracedGroup stop_recording(DeviceGroup& group);

// Records every device group of this process whose scheduler runs here (all of corund's) for
// `duration`, or until `cancelled()` says so, and returns the Chrome trace. A group created
// meanwhile is not in it. INVALID_ARGUMENT for options out of bounds; INVALID_OPERATION when a
// group is being recorded already (nothing is recorded then).
Expected<std::string> record_live_groups(std::chrono::nanoseconds duration,
                                         const scheduler::RecordingOptions& options,
                                         const std::function<bool()>& cancelled);

}  // namespace corun::runtime::monitor
