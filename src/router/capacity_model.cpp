#include "router/capacity_model.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "router/workload.hpp"
#include "scheduler/simulation_recording.hpp"

namespace corun::router {
namespace {

// The headroom search: multipliers from 1/64 to 64, then seven halvings of the bracket (about
// 1% apart at 1x).
constexpr double MOST_HEADROOM = 64;
constexpr double LEAST_HEADROOM = 1.0 / 64;
constexpr int BISECTION_STEPS = 7;
// A rate-driven model keeps up while at most this share of its arrivals finds the queue full.
constexpr double MOST_DROPPED_SHARE = 0.01;
// A model with an SLO meets it while at most this share of its arrivals is refused by admission.
constexpr double MOST_REFUSED_SHARE = 0.01;

// One simulation of the workload and what it ran.
struct Simulated {
    std::vector<scheduler::SimulatedModel> models;
    scheduler::SimulatedDevice device;
    scheduler::SimulationResult result;
};

class Planner {
public:
    Planner(const CapacityWorkload& workload, const DeviceProfile& device)
        : workload_(workload), device_(device) {}

    // The workload with its rates scaled, simulated over its horizon.
    Simulated simulate_at(const std::vector<double>& rate_scale, bool record_frames) const {
        Simulated simulated{simulated_models(workload_, device_, rate_scale),
                            simulated_device(workload_, device_),
                            {}};
        simulated.result =
            scheduler::simulate(simulated.models, simulated.device, policy_options(workload_),
                                workload_.horizon, record_frames);
        return simulated;
    }

    CapacityPrediction predict_at(const std::vector<double>& rate_scale) const {
        const Simulated simulation = simulate_at(rate_scale, false);
        const auto& models = simulation.models;
        const auto& simulated = simulation.device;
        const auto& result = simulation.result;
        const double seconds = std::chrono::duration<double>(result.duration).count();
        const double capacity_ns = static_cast<double>(result.duration.count()) * simulated.slots;
        CapacityPrediction prediction;
        prediction.device = workload_.device;
        prediction.slots = simulated.slots;
        prediction.utilisation =
            capacity_ns > 0 ? static_cast<double>(result.busy_time.count()) / capacity_ns : 0;
        for (size_t i = 0; i < models.size(); ++i) {
            const PlannedModel& planned = workload_.models[i];
            const auto& simulated_model = result.models[i];
            ModelPrediction model;
            model.name = planned.name;
            model.generative = models[i].generation.generative();
            model.offered_rate = rate_driven(planned) ? planned.rate * rate_scale[i] : 0;
            const double completed = static_cast<double>(simulated_model.latency_ms.size());
            model.throughput = seconds > 0 ? completed / seconds : 0;
            model.latency_p50_ms = percentile_of(simulated_model.latency_ms, 50);
            model.latency_p95_ms = percentile_of(simulated_model.latency_ms, 95);
            model.latency_p99_ms = percentile_of(simulated_model.latency_ms, 99);
            model.utilisation =
                capacity_ns > 0
                    ? static_cast<double>(simulated_model.device_time.count()) / capacity_ns
                    : 0;
            const double dropped = static_cast<double>(simulated_model.frames_dropped);
            const double refused = static_cast<double>(simulated_model.frames_refused +
                                                       simulated_model.frames_dropped_late);
            const double arrivals = completed + dropped + refused;
            model.dropped_share = dropped > 0 ? dropped / arrivals : 0;
            model.refused_share = refused > 0 ? refused / arrivals : 0;
            model.late_share =
                completed > 0 ? static_cast<double>(simulated_model.frames_late) / completed : 0;
            if (model.generative) {
                model.ttft_p50_ms = percentile_of(simulated_model.ttft_ms, 50);
                model.ttft_p95_ms = percentile_of(simulated_model.ttft_ms, 95);
                model.tokens_per_second =
                    seconds > 0 ? static_cast<double>(simulated_model.tokens) / seconds : 0;
            }
            // A camera that waits for room drops no frame it sent, but the frames of its
            // schedule it skipped once it fell behind count as dropped.
            const bool keeps_up =
                !rate_driven(planned) || model.dropped_share <= MOST_DROPPED_SHARE;
            model.has_slo = planned.slo.count() > 0;
            const auto& checked =
                model.generative ? simulated_model.ttft_ms : simulated_model.latency_ms;
            // Nothing completed: the latency is unbounded, not 0.
            model.slo_latency_ms =
                checked.empty() ? INFINITY : percentile_of(checked, planned.slo_percentile);
            const double slo_ms = std::chrono::duration<double, std::milli>(planned.slo).count();
            model.slo_holds =
                keeps_up && (!model.has_slo || (model.slo_latency_ms <= slo_ms &&
                                                model.refused_share <= MOST_REFUSED_SHARE));
            prediction.all_slos_hold = prediction.all_slos_hold && model.slo_holds;
            prediction.models.push_back(std::move(model));
        }
        return prediction;
    }

    // Whether the workload fits with these rate multipliers: the SLO of every model in
    // `checked` holds (a rate-driven model's includes keeping up).
    bool fits(const std::vector<double>& rate_scale, const std::vector<bool>& checked) const {
        const CapacityPrediction prediction = predict_at(rate_scale);
        for (size_t i = 0; i < checked.size(); ++i) {
            if (checked[i] && !prediction.models[i].slo_holds) return false;
        }
        return true;
    }

    // The largest multiplier m (within 1/64 .. 64) for which fits(scale(m)) holds.
    static double search(const std::function<bool(double)>& fits_at) {
        double low = 1, high = 2;
        if (fits_at(1)) {
            while (fits_at(high)) {
                if (high >= MOST_HEADROOM) return MOST_HEADROOM;
                low = high;
                high *= 2;
            }
        } else {
            high = 1;
            low = 0.5;
            while (!fits_at(low)) {
                if (low <= LEAST_HEADROOM) return 0;
                high = low;
                low /= 2;
            }
        }
        for (int step = 0; step < BISECTION_STEPS; ++step) {
            const double middle = (low + high) / 2;
            (fits_at(middle) ? low : high) = middle;
        }
        return low;
    }

private:
    const CapacityWorkload& workload_;
    const DeviceProfile& device_;
};

}  // namespace

double percentile_of(std::vector<double> values, double percent) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const double rank = std::ceil(percent / 100.0 * static_cast<double>(values.size()));
    const size_t index =
        static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(values.size())));
    return values[index - 1];
}

namespace {

// The profile's section the workload plans for, once the workload is checked against it.
Expected<const DeviceProfile*> checked_device(const CapacityProfile& profile,
                                              const CapacityWorkload& workload) {
    CORUN_TRY(const DeviceProfile* device, profile.device(workload.device));
    CORUN_RETURN_IF_ERROR(check_workload(workload, *device));
    return device;
}

}  // namespace

Expected<CapacityPrediction> predict(const CapacityProfile& profile,
                                     const CapacityWorkload& workload) {
    CORUN_TRY(const DeviceProfile* device, checked_device(profile, workload));
    const Planner planner(workload, *device);
    const size_t count = workload.models.size();
    CapacityPrediction prediction = planner.predict_at(std::vector<double>(count, 1.0));
    if (!workload.headroom) return prediction;
    // A model's own headroom: its rate alone grows while its SLO and every SLO that holds now
    // still hold (an SLO already missed does not make every other model's headroom 0).
    std::vector<bool> holding(count);
    for (size_t i = 0; i < count; ++i) holding[i] = prediction.models[i].slo_holds;
    bool any_rate = false;
    for (size_t i = 0; i < count; ++i) {
        if (!rate_driven(workload.models[i])) continue;
        any_rate = true;
        std::vector<bool> checked = holding;
        checked[i] = true;
        prediction.models[i].headroom = Planner::search([&](double multiplier) {
            std::vector<double> scale(count, 1.0);
            scale[i] = multiplier;
            return planner.fits(scale, checked);
        });
    }
    // Together: every rate grows, and every SLO must hold.
    if (any_rate) {
        prediction.headroom = Planner::search([&](double multiplier) {
            std::vector<double> scale(count, 1.0);
            for (size_t i = 0; i < count; ++i) {
                if (rate_driven(workload.models[i])) scale[i] = multiplier;
            }
            return planner.fits(scale, std::vector<bool>(count, true));
        });
    }
    return prediction;
}

Expected<scheduler::SchedulerRecording> predicted_schedule(const CapacityProfile& profile,
                                                           const CapacityWorkload& workload) {
    CORUN_TRY(const DeviceProfile* device, checked_device(profile, workload));
    const Simulated simulated =
        Planner(workload, *device)
            .simulate_at(std::vector<double>(workload.models.size(), 1.0), /*record_frames=*/true);
    return scheduler::recording_of_simulation(simulated.result, simulated.models, simulated.device);
}

}  // namespace corun::router
