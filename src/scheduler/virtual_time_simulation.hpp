// The model scheduler in virtual time: the same SchedulingPolicy as the threaded scheduler,
// driven by a discrete-event clock over an npu-sim timing model. No sleeping, exact and
// repeatable: thousands of simulated seconds per real second. Tests assert exact schedules
// with it, and capacity planning asks it "what if".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "devices/npu_sim/npu_timing_model.hpp"
#include "scheduler/scheduling_policy.hpp"

namespace corun::scheduler {

// How a simulated client sends frames.
struct ArrivalPattern {
    enum class Kind {
        SATURATE,  // keeps its queue full: a new frame the moment one completes
        PERIODIC,  // one frame every `period`, starting at `start`; dropped if the queue is full
        LIST,      // frames at the given times
    };
    Kind kind = Kind::SATURATE;
    std::chrono::nanoseconds period{0};
    std::chrono::nanoseconds start{0};
    std::vector<std::chrono::nanoseconds> times;

    static ArrivalPattern saturate() { return {}; }
    static ArrivalPattern periodic(std::chrono::nanoseconds period,
                                   std::chrono::nanoseconds start = std::chrono::nanoseconds(0)) {
        return {Kind::PERIODIC, period, start, {}};
    }
    static ArrivalPattern at(std::vector<std::chrono::nanoseconds> times) {
        return {Kind::LIST, {}, {}, std::move(times)};
    }
};

struct SimulatedModel {
    std::string name;
    ModelSchedulingParams params;
    devices::npu_sim::ModelTiming timing;
    ArrivalPattern arrivals;
    uint32_t queue_capacity = 2;  // frames queued or running at once (the async queue)
};

// One burst on the device.
struct SimulatedDispatch {
    std::chrono::nanoseconds start{0};  // decision time (switch cost runs first)
    std::chrono::nanoseconds end{0};
    size_t model = 0;  // index into the simulated models
    uint32_t frames = 0;
    bool switched = false;  // a context switch preceded it
    DecisionReason reason = DecisionReason::ROUND_ROBIN;
    ReadyReason ready = ReadyReason::THRESHOLD;
};

struct SimulatedModelResult {
    uint64_t frames_done = 0;
    uint64_t frames_dropped = 0;  // periodic arrivals that found the queue full
    std::chrono::nanoseconds device_time{0};
    std::vector<double> latency_ms;  // arrival to completion, per frame
    uint64_t switches_in = 0;
};

struct SimulationResult {
    std::vector<SimulatedDispatch> dispatches;
    std::vector<SimulatedModelResult> models;
    std::chrono::nanoseconds switch_time{0};
    std::chrono::nanoseconds busy_time{0};  // device time + switch time
    std::chrono::nanoseconds duration{0};
};

// Runs `models` on one simulated single-context device for `duration` of virtual time.
SimulationResult simulate(const std::vector<SimulatedModel>& models,
                          std::chrono::nanoseconds context_switch, PolicyOptions policy,
                          std::chrono::nanoseconds duration);

}  // namespace corun::scheduler
