// The Prometheus text format (0.0.4) of what the scheduler knows, shared by the two pages that
// publish it: `corun serve`'s /metrics (serving/metrics_page.hpp, which adds the request counters
// of the served models) and the in-process monitor's /metrics (in_process_monitor.hpp, for an
// application run with CORUN_MONITOR_METRICS). One place for the metric names, so a dashboard
// reads both alike.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "corun/vdevice.hpp"
#include "runtime/monitor/in_process_monitor.hpp"

namespace corun::runtime::monitor {

struct MetricFamily {
    const char* name;
    const char* type;  // counter, gauge, histogram
    const char* help;
};
void write_family_header(std::ostream& out, const MetricFamily& family);
// A number as Prometheus reads it, without losing precision.
std::string prometheus_number(double value);

// One configured model the scheduler holds, and the labels that name it on the page
// (`model="m",version="1"` when served, `group="g",model="m"` in-process).
struct SchedulerMetricRow {
    std::string labels;
    const ScheduledModelStats* stats;
};
// The corun_scheduler_* families, each row labelled `LABELS,priority="P",instance="ID"`:
// frames_total, device_seconds_total, switches_total, max_overtaken_by, queued_frames,
// deadline_refused_total.
void write_scheduler_families(std::ostream& out, const std::vector<SchedulerMetricRow>& rows);

// The in-process page: every group of this process, its models' scheduler families and its
// device time (corun_device_busy_seconds_total, corun_device_utilisation since the previous
// scrape, corun_scheduled_models), labelled by group.
class ProcessMetricsPage {
public:
    std::string render(const std::vector<GroupSample>& groups);

private:
    struct Previous {
        std::chrono::steady_clock::time_point time;
        int64_t device_ns = 0;
    };
    std::map<std::string, Previous> previous_;  // by group
};

}  // namespace corun::runtime::monitor
