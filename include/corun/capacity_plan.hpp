// Capacity planning before deploying: from each model's measured profile on a device (what
// `corun benchmark --profile` writes) and a workload (models, rates or closed-loop clients,
// priorities, bursts, latency targets), predict per model its throughput, latency percentiles,
// share of the device, whether its SLO holds and how much more rate still fits. The prediction
// runs corun's own scheduling policy in virtual time, so it answers for the scheduler that
// will really run the models (docs/ROUTER.md).
//
//   auto planner = corun::CapacityPlanner::from_file("profile.json");
//   corun::CapacityWorkload workload;
//   workload.models.push_back(corun::PlannedModel::at_rate("nanodet", 30.0));
//   workload.models.back().slo = std::chrono::milliseconds(50);
//   auto prediction = planner->predict(workload);   // prediction->models[0].latency_p95_ms
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corun/expected.hpp"

namespace corun {

// How a model's frames arrive.
enum class ArrivalKind {
    FIXED_RATE,   // a camera: one frame every 1 / rate seconds
    POISSON,      // independent requests, `rate` a second on average
    CLOSED_LOOP,  // `clients` clients, each sending its next frame `think` after its last one
                  // completed (a client that runs frames back to back has think 0)
};

// One model of the workload.
struct PlannedModel {
    std::string name;  // its name in the profile: the model file's stem ("nanodet")
    ArrivalKind arrivals = ArrivalKind::CLOSED_LOOP;
    double rate = 0;  // frames per second (FIXED_RATE, POISSON)
    // FIXED_RATE: when the first frame comes; unset = a phase of its own (cameras are not in
    // step), the same for every prediction.
    std::optional<std::chrono::nanoseconds> phase;
    // FIXED_RATE: a frame that finds the queue full waits for room (sent when a frame leaves,
    // its latency counted from then; the camera's schedule restarts a period later if it fell
    // more than a period behind, and the frames it skipped so count in dropped_share), as
    // `corun run2`'s frame pump and an application calling wait_for_async_ready() do. false:
    // such a frame is dropped (a camera that does not wait), counted in dropped_share.
    bool waits_when_full = false;
    // CLOSED_LOOP: clients; 0 = one per async queue entry (2 x batch size), as `corun run2`
    // keeps the queue full without --framerate.
    uint32_t clients = 0;
    std::chrono::nanoseconds think{0};
    // Scheduler knobs, as on ConfiguredInferModel (docs/SCHEDULER.md).
    uint8_t priority = 16;
    uint32_t batch_size = 1;
    uint32_t threshold = 1;
    std::chrono::nanoseconds timeout{0};
    // The latency target: the SLO holds when the slo_percentile latency (for an LLM, of the
    // time to first token) is at most `slo`, and a rate-driven model keeps up with its rate.
    // 0 = no target.
    std::chrono::nanoseconds slo{0};
    double slo_percentile = 95;
    // With an SLO, whether the scheduler enforces it as a deadline (ConfiguredInferModel's
    // set_latency_slo, `corun run2 --slo-ms`): frames predicted to miss it are refused when
    // queued and frames that can no longer make it are dropped before they run, so the frames
    // that do run meet it. false: the SLO is a target only, every frame runs however late.
    bool admission = true;
    // LLMs (models under the profile's "generative"): tokens per generation. One generation
    // runs at a time; arrivals are generations.
    uint32_t prompt_tokens = 64;
    uint32_t max_tokens = 64;

    static PlannedModel at_rate(std::string name, double frames_per_second);
    static PlannedModel closed_loop(std::string name, uint32_t clients,
                                    std::chrono::nanoseconds think = std::chrono::nanoseconds(0));
};

struct CapacityWorkload {
    std::string device = "cpu";  // the profile's section: "cpu" or "npu-sim"
    // cpu: inferences at once; 0 = as the profile was measured. More slots than the profile
    // measured interference for is an error.
    uint32_t slots = 0;
    uint32_t latency_slots = 0;  // cpu: slots only models above normal priority may use
    bool fair_device_time = true;
    std::chrono::milliseconds aging_step{250};
    // As VDeviceParams::scheduler.anticipation: the scheduler the workload will run on.
    std::chrono::microseconds anticipation{250};
    std::chrono::seconds horizon{60};  // virtual time simulated per prediction
    bool headroom = true;              // also search the headroom (a few dozen more simulations)
    std::vector<PlannedModel> models;
};

struct ModelPrediction {
    std::string name;
    double offered_rate = 0;  // frames (generations) per second asked for; 0 in a closed loop
    double throughput = 0;    // frames (generations) completed per second
    // Latency from arrival to completion, host time included (an LLM: the whole generation).
    double latency_p50_ms = 0;
    double latency_p95_ms = 0;
    double latency_p99_ms = 0;
    double utilisation = 0;    // its share of the device's capacity (all slots together)
    double dropped_share = 0;  // arrivals that found the queue full, of all its arrivals
    // With admission (PlannedModel::admission): frames refused when queued or dropped before
    // they ran, of all its arrivals; and completed frames that still finished after their
    // deadline, of those completed.
    double refused_share = 0;
    double late_share = 0;
    bool has_slo = false;
    // Its SLO holds (always, without one): its slo_percentile latency is within the SLO and at
    // most 1% of its arrivals are refused; and, when rate-driven, it keeps up: at most 1% of its
    // arrivals find the queue full.
    bool slo_holds = true;
    double slo_latency_ms = 0;  // the predicted latency the SLO is checked against
    // How many times its rate would still fit, the others unchanged: its own SLO and every SLO
    // that holds now still hold (< 1: it does not fit now; 64 = at least 64). Unset in a closed
    // loop (its rate follows the device) or when not searched.
    std::optional<double> headroom;
    // LLMs.
    bool generative = false;
    double ttft_p50_ms = 0;
    double ttft_p95_ms = 0;
    double tokens_per_second = 0;
};

struct CapacityPrediction {
    std::string device;
    uint32_t slots = 1;
    double utilisation = 0;  // of all slots together
    bool all_slos_hold = true;
    // How many times every rate-driven model's rate would still fit together, every SLO
    // holding. Unset without rate-driven models or when not searched.
    std::optional<double> headroom;
    std::vector<ModelPrediction> models;
};

class CapacityPlanner {
public:
    // A profile file (`corun benchmark --profile`); NOT_FOUND or INVALID_ARGUMENT naming what
    // is wrong and how to write one.
    static Expected<CapacityPlanner> from_file(const std::string& profile_path);
    static Expected<CapacityPlanner> from_json(const std::string& profile_json);

    // The models the profile has for a device kind ("cpu", "npu-sim"), generative ones included.
    std::vector<std::string> model_names(const std::string& device) const;
    // INVALID_ARGUMENT for a workload that cannot be planned (a model the profile lacks, a bad
    // rate, more slots than measured), naming the fix.
    Expected<CapacityPrediction> predict(const CapacityWorkload& workload) const;

    struct Profile;  // the parsed profile (src/router/capacity_profile.hpp)

private:
    explicit CapacityPlanner(std::shared_ptr<const Profile> profile)
        : profile_(std::move(profile)) {}
    std::shared_ptr<const Profile> profile_;
};

}  // namespace corun
