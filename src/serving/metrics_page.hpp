// The /metrics page: Prometheus text format (version 0.0.4) with Triton's metric names for what
// Triton counts (nv_inference_*), and corun's own for what the scheduler knows (device time and
// its share, switches, max_overtaken_by, utilisation). Request counts come from each served
// model's RequestStatistics; device time, switches and overtaking from the scheduler's
// statistics of the shared VDevice (VDevice::get_scheduler_stats), not from new counters.
// docs/SERVING.md lists every metric.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "serving/inference_service.hpp"

namespace corun::serving {

class MetricsPage {
public:
    explicit MetricsPage(const InferenceService& service) : service_(service) {}

    // The page as of now. Utilisation is measured between this call and the previous one.
    std::string render();

private:
    const InferenceService& service_;
    std::mutex mutex_;
    bool have_previous_ = false;
    std::chrono::steady_clock::time_point previous_time_;
    int64_t previous_device_ns_ = 0;
};

}  // namespace corun::serving
