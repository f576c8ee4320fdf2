// What the virtual-time tests share: a simulated model with the fields every schedule sets, and
// the strict policy (no aging; fairness by device time only when asked) their hand-worked
// schedules assume.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "scheduler/virtual_time_simulation.hpp"

namespace corun::scheduler {

inline SimulatedModel simulated_model(const std::string& name, uint8_t priority,
                                      std::chrono::nanoseconds frame, ArrivalPattern arrivals,
                                      uint32_t queue_capacity) {
    SimulatedModel simulated;
    simulated.name = name;
    simulated.params.priority = priority;
    simulated.timing.frame = frame;
    simulated.arrivals = std::move(arrivals);
    simulated.queue_capacity = queue_capacity;
    return simulated;
}

inline PolicyOptions strict(bool fair = false) {
    PolicyOptions options;
    options.fair_device_time = fair;
    options.aging_step = std::chrono::nanoseconds(0);
    return options;
}

}  // namespace corun::scheduler
