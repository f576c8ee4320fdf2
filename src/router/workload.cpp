#include "router/workload.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace corun {

PlannedModel PlannedModel::at_rate(std::string name, double frames_per_second) {
    PlannedModel model;
    model.name = std::move(name);
    model.arrivals = ArrivalKind::FIXED_RATE;
    model.rate = frames_per_second;
    return model;
}

PlannedModel PlannedModel::closed_loop(std::string name, uint32_t clients,
                                       std::chrono::nanoseconds think) {
    PlannedModel model;
    model.name = std::move(name);
    model.arrivals = ArrivalKind::CLOSED_LOOP;
    model.clients = clients;
    model.think = think;
    return model;
}

}  // namespace corun

namespace corun::router {
namespace {

using std::chrono::nanoseconds;

constexpr double MOST_FRAMES_PER_SECOND = 1e6;
constexpr uint32_t MOST_CLIENTS = 10000;

std::string number_text(double value) {
    std::ostringstream text;
    text << value;
    return text.str();
}

// A phase for a camera that was given none: spread over its period by the golden ratio, so
// that cameras are not in step and every prediction uses the same phases.
nanoseconds own_phase(size_t index, nanoseconds period) {
    const double fraction = std::fmod(0.6180339887498949 * static_cast<double>(index + 1), 1.0);
    return nanoseconds(static_cast<int64_t>(fraction * static_cast<double>(period.count())));
}

}  // namespace

bool rate_driven(const PlannedModel& model) {
    return model.arrivals != ArrivalKind::CLOSED_LOOP;
}

uint32_t planned_slots(const CapacityWorkload& workload, const DeviceProfile& device) {
    return workload.slots > 0 ? workload.slots : std::max<uint32_t>(1, device.execution_slots);
}

Status check_workload(const CapacityWorkload& workload, const DeviceProfile& device) {
    auto invalid = [](const std::string& message) {
        return Status(StatusCode::INVALID_ARGUMENT, message);
    };
    if (workload.models.empty()) return invalid("the workload has no models; add one");
    if (workload.horizon < std::chrono::seconds(1) || workload.horizon > std::chrono::hours(1)) {
        return invalid("the horizon must be 1 s .. 1 h of virtual time, got " +
                       std::to_string(workload.horizon.count()) + " s");
    }
    const uint32_t slots = planned_slots(workload, device);
    if (workload.device == NPU_SIM_SECTION && (slots != 1 || workload.latency_slots != 0)) {
        return invalid("npu-sim is a single-context device: one slot, no latency slots");
    }
    if (workload.device == CPU_SECTION && slots > device.interference.size()) {
        // The slowdown of more concurrent slots than were measured is not known.
        return invalid("the profile measured the cpu device with " +
                       std::to_string(device.interference.size()) + " slot(s) busy at most, not " +
                       std::to_string(slots) +
                       "; measure it with `corun benchmark MODEL.onnx... --slots " +
                       std::to_string(slots) + " --profile FILE`");
    }
    if (slots > 256) return invalid("at most 256 slots, got " + std::to_string(slots));
    for (size_t i = 0; i < workload.models.size(); ++i) {
        const PlannedModel& model = workload.models[i];
        const std::string where = "model #" + std::to_string(i + 1) + " (" + model.name + "): ";
        if (!device.has_model(model.name)) {
            std::string known;
            for (const auto& name : device.model_names())
                known += (known.empty() ? "" : ", ") + name;
            return Status(StatusCode::NOT_FOUND,
                          "model '" + model.name + "' is not in the profile's " + workload.device +
                              " section (it has: " + (known.empty() ? "no models" : known) +
                              "); measure it with `corun benchmark " + model.name +
                              ".onnx... --profile FILE`");
        }
        if (rate_driven(model) && !(std::isfinite(model.rate) && model.rate > 0 &&
                                    model.rate <= MOST_FRAMES_PER_SECOND)) {
            return invalid(where +
                           "the rate must be more than 0 and at most 1e6 frames per "
                           "second, got " +
                           number_text(model.rate));
        }
        if (model.phase && model.phase->count() < 0)
            return invalid(where + "the phase is negative");
        if (!rate_driven(model) && model.clients > MOST_CLIENTS) {
            return invalid(where + "at most 10000 clients, got " + std::to_string(model.clients));
        }
        if (model.think.count() < 0 || model.timeout.count() < 0 || model.slo.count() < 0) {
            return invalid(where + "think time, timeout and SLO must not be negative");
        }
        if (model.priority > scheduler::PRIORITY_MAX) {
            return invalid(where + "priority " + std::to_string(model.priority) +
                           " is out of range; use 0..31 (normal 16, higher wins)");
        }
        if (model.batch_size < 1 || model.batch_size > 256) {
            return invalid(where + "batch size " + std::to_string(model.batch_size) +
                           " is out of range; use 1..256");
        }
        CORUN_RETURN_IF_ERROR(scheduler::check_threshold(model.threshold, 2 * model.batch_size),
                              where.substr(0, where.size() - 2));
        if (!(model.slo_percentile > 0 && model.slo_percentile <= 100)) {
            return invalid(where + "the SLO percentile must be in (0, 100], got " +
                           number_text(model.slo_percentile));
        }
        if (device.generative.count(model.name) > 0 &&
            (model.prompt_tokens < 1 || model.max_tokens < 1 || model.prompt_tokens > 1000000 ||
             model.max_tokens > 1000000)) {
            return invalid(where +
                           "an LLM needs 1..1e6 prompt tokens and 1..1e6 tokens to "
                           "generate");
        }
    }
    return Status::ok();
}

namespace {

// The models planned as closed-loop clients: the race share depends on their number.
size_t closed_loop_count(const CapacityWorkload& workload) {
    return static_cast<size_t>(std::count_if(
        workload.models.begin(), workload.models.end(),
        [](const PlannedModel& m) { return m.arrivals == ArrivalKind::CLOSED_LOOP; }));
}

}  // namespace

std::vector<scheduler::SimulatedModel> simulated_models(const CapacityWorkload& workload,
                                                        const DeviceProfile& device,
                                                        const std::vector<double>& rate_scale) {
    std::vector<scheduler::SimulatedModel> models;
    const size_t closed_loop_models = closed_loop_count(workload);
    for (size_t i = 0; i < workload.models.size(); ++i) {
        const PlannedModel& planned = workload.models[i];
        scheduler::SimulatedModel model;
        model.name = planned.name;
        model.params.priority = planned.priority;
        model.params.burst = planned.batch_size;
        model.params.threshold = planned.threshold;
        model.params.timeout = planned.timeout;
        if (planned.admission) model.params.latency_slo = planned.slo;
        model.queue_capacity = 2 * planned.batch_size;  // the async queue
        if (auto overhead = device.overhead.find(planned.name); overhead != device.overhead.end()) {
            model.latency_overhead = overhead->second;
        }
        if (auto cold = device.cold_frame.find(planned.name); cold != device.cold_frame.end()) {
            model.cold_frame = cold->second;
        }
        if (auto beside = device.beside_spread.find(planned.name);
            beside != device.beside_spread.end()) {
            model.beside_spread = beside->second;
        }
        if (auto cold = device.cold_spread.find(planned.name); cold != device.cold_spread.end()) {
            model.cold_spread = cold->second;
        }
        if (auto spread = device.frame_spread.find(planned.name);
            spread != device.frame_spread.end()) {
            model.frame_spread = spread->second;
        }
        if (auto own = device.model_interference.find(planned.name);
            own != device.model_interference.end()) {
            model.interference = own->second;
        }
        // Its own share, else the device's (the same as simulated_device gives the device).
        model.closed_loop_in_time = device.closed_loop_share(planned.name, closed_loop_models);
        model.closed_loop_gaps = device.closed_loop_gaps(planned.name, closed_loop_models);
        if (auto timing = device.models.find(planned.name); timing != device.models.end()) {
            model.timing = timing->second;
        } else {
            const GenerativeTiming& generative = device.generative.at(planned.name);
            model.generation.prompt_tokens = planned.prompt_tokens;
            model.generation.max_tokens = planned.max_tokens;
            model.generation.prefill_chunk_tokens = generative.prefill_chunk_tokens;
            model.generation.prefill_chunk = generative.prefill_chunk;
            model.generation.decode_step = generative.decode_step;
            model.generation.prefill_spread = generative.prefill_spread;
            model.params.burst = 1;  // one unit at a time
        }
        const double rate = planned.rate * (i < rate_scale.size() ? rate_scale[i] : 1.0);
        const nanoseconds period(rate > 0 ? std::max<int64_t>(1, std::llround(1e9 / rate))
                                          : int64_t{0});
        switch (planned.arrivals) {
            case ArrivalKind::FIXED_RATE:
                model.arrivals = scheduler::ArrivalPattern::periodic(
                    period, planned.phase.value_or(own_phase(i, period)));
                model.arrivals.waits_when_full = planned.waits_when_full;
                break;
            case ArrivalKind::POISSON:
                model.arrivals = scheduler::ArrivalPattern::poisson(period, 1000 + i);
                break;
            case ArrivalKind::CLOSED_LOOP:
                model.arrivals = scheduler::ArrivalPattern::closed_loop(
                    planned.clients > 0 ? planned.clients : model.queue_capacity, planned.think);
                break;
        }
        models.push_back(std::move(model));
    }
    return models;
}

scheduler::SimulatedDevice simulated_device(const CapacityWorkload& workload,
                                            const DeviceProfile& device) {
    scheduler::SimulatedDevice simulated;
    simulated.context_switch = device.context_switch;
    simulated.slots = planned_slots(workload, device);
    simulated.latency_slots = workload.latency_slots;
    simulated.interference = device.interference;
    simulated.cold_after = device.cold_after;
    simulated.cold_by_slot = device.cold_by_slot;
    simulated.closed_loop_in_time = device.closed_loop_share(closed_loop_count(workload));
    simulated.closed_loop_gaps = device.closed_loop_gaps(closed_loop_count(workload));
    simulated.one_burst_per_model = device.one_burst_per_model;
    simulated.speed_share = device.speed_share;
    simulated.speed_memory = device.speed_memory;
    return simulated;
}

scheduler::PolicyOptions policy_options(const CapacityWorkload& workload) {
    scheduler::PolicyOptions options;
    options.fair_device_time = workload.fair_device_time;
    options.aging_step = workload.aging_step;
    options.anticipation = workload.anticipation;
    return options;
}

}  // namespace corun::router
