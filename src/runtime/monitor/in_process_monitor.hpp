// `corun monitor --pid PID` for an application run with CORUN_MONITOR=1: a gRPC server on
// in_process_monitor_socket(getpid()) that answers only Monitor, from samples taken once a
// second on a thread of its own, so inference never waits for it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "corun/vdevice.hpp"

namespace corun::service {

// What one device group is doing now; counters are cumulative, rates come from two samples.
struct GroupSample {
    std::string group_id;
    std::vector<DeviceDescription> devices;
    uint32_t slots = 1;  // execution slots over all devices (utilisation's denominator)
    std::vector<ScheduledModelStats> models;
};
using GroupSampler = std::function<std::vector<GroupSample>()>;

// true when the environment asks for monitoring (CORUN_MONITOR=1).
bool monitoring_requested();

// Starts the monitor once per process (later calls do nothing). Errors (e.g. the socket cannot
// be created) are reported once on stderr: monitoring must never stop the application.
void start_in_process_monitor(GroupSampler sampler);

}  // namespace corun::service
