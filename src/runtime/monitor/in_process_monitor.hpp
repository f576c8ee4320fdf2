// `corun monitor --pid PID` for an application whose VDevice params ask for it (monitor, or
// CORUN_MONITOR=1): a Unix socket (environment::in_process_monitor_socket) that answers each
// connection with one JSON snapshot, in the field names of the protocol's MonitorSnapshot,
// and closes it. A connection that first sends `trace SECONDS MAX_EVENTS` (`corun trace --pid`)
// gets a Chrome trace of the process's groups instead (docs/TRACING.md), recorded on a thread
// of its own. Samples are taken once a second on a thread of its own, so inference never
// waits for the monitor. No gRPC: a program that runs models in-process links none.
// With CORUN_MONITOR_METRICS=[ADDRESS:]PORT the same thread also answers `GET /metrics` over
// HTTP there (prometheus_page.hpp: the scheduler and device families corund's page has), from a
// sample taken for that request, so counts are exact as of the scrape.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "corun/vdevice.hpp"
#include "runtime/monitor/generative_record.hpp"

namespace corun::runtime::monitor {

// What one device group is doing now; counters are cumulative, rates come from two samples.
struct GroupSample {
    std::string group_id;
    std::vector<DeviceDescription> devices;
    uint32_t slots = 1;  // execution slots over all devices (utilisation's denominator)
    std::vector<ScheduledModelStats> models;
    // The generative models among them (LLMs), by scheduler model id.
    std::map<uint64_t, GenerativeSample> generative;
};
using GroupSampler = std::function<std::vector<GroupSample>()>;

// Whether params ask for monitoring (environment::monitor_enabled).
bool monitoring_requested(const VDeviceParams& params);

// The TCP port the monitor's Prometheus page (CORUN_MONITOR_METRICS) listens on; 0 when it does
// not (not asked for, not started yet, or the port could not be bound).
int metrics_port();

// Starts the monitor once per process, at the socket params name (later calls do nothing).
// Errors (the socket cannot be created) are reported once on stderr: monitoring must never
// stop the application.
void start_in_process_monitor(const VDeviceParams& params, GroupSampler sampler);

}  // namespace corun::runtime::monitor
