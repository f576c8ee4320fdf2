// What the capacity model knows of each model on each device kind: the npu-sim timing profile,
// extended. The file's top level is the npu-sim profile as it always was ("device", "models"),
// so every old profile still loads; `corun benchmark --profile` adds a "cpu" section measured
// on the cpu device with the configuration it ran (slots, threads) and the slowdown of
// concurrent slots, and either section may name generative models:
//
//   {"device": {"context_switch_us": 0},
//    "models": {"nanodet": {"frame_us": 21000, "host_pre_us": 40, ...}},
//    "cpu": {"device": {"context_switch_us": 0, "cores": 2, "execution_slots": 2,
//                       "intra_op_threads": 1, "interference": [1.0, 1.31],
//                       "cold_after_us": 20000},
//            "models": {"nanodet": {"frame_us": 33000, "overhead_us": 85,
//                                   "cold_frame_us": 41000,
//                                   "frame_spread": [0.97, 0.98, ..., 1.35]}},
//            "generative": {"qwen": {"prefill_chunk_tokens": 64, "prefill_chunk_us": 3.7e6,
//                                    "decode_step_us": 104000}}}}
//
// docs/ROUTER.md describes every field.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "devices/npu_sim/npu_timing_model.hpp"

namespace corun::router {

// A generative model's units: prefill chunks of up to prefill_chunk_tokens, then decode steps.
struct GenerativeTiming {
    uint32_t prefill_chunk_tokens = 64;
    std::chrono::nanoseconds prefill_chunk{0};  // device time of a full chunk
    std::chrono::nanoseconds decode_step{0};
    // "prefill_spread": a prefill chunk's time over the median at evenly spaced quantiles,
    // ascending (as a model's frame_spread); empty, every chunk takes prefill_chunk.
    std::vector<double> prefill_spread;
};

// One device kind's section.
struct DeviceProfile {
    std::chrono::nanoseconds context_switch{0};
    // The cpu configuration the figures were measured with (0 = not recorded).
    uint32_t cores = 0;  // the machine's
    uint32_t execution_slots = 1;
    uint32_t intra_op_threads = 0;
    // interference[k - 1]: how much longer a burst takes while k slots run at once, measured
    // for k = 1 .. its size.
    std::vector<double> interference{1.0};
    std::map<std::string, devices::npu_sim::ModelTiming> models;  // frame_us is slot time
    // A model's "overhead_us": the runtime's time per frame outside the slot (hand-off to a
    // worker, completion), added to its latency only (scheduler::SimulatedModel).
    std::map<std::string, std::chrono::nanoseconds> overhead;
    // A model's "cold_frame_us": its slot time after the device idled "cold_after_us" (the
    // section's device) or longer; less idling, that share of the difference.
    std::map<std::string, std::chrono::nanoseconds> cold_frame;
    std::chrono::nanoseconds cold_after{0};
    // A model's "cold_spread": how a cold frame's time spreads, as ratios to frame_us (a cold
    // frame over the median of the warm frames measured between the cold ones) at evenly spaced
    // quantiles, ascending (scheduler::SimulatedModel::cold_spread); absent, a cold frame takes
    // cold_frame_us.
    std::map<std::string, std::vector<double>> cold_spread;
    // "cold_by_slot": whether a frame is cold after its slot idled (true, the default: on the
    // cpu each slot is a thread whose core sleeps between its frames whatever the other slots
    // do) or only after the whole device idled (false, as until the sixteenth session)
    // (scheduler::SimulatedDevice::cold_by_slot).
    bool cold_by_slot = true;
    // A model's "frame_spread": its device time over the median at evenly spaced quantiles,
    // ascending (scheduler::SimulatedModel::frame_spread); absent, every frame takes frame_us.
    std::map<std::string, std::vector<double>> frame_spread;
    // A model's "beside_spread": the same for its frames while other slots run, measured with
    // every slot busy (scheduler::SimulatedModel::beside_spread); absent, frame_spread.
    std::map<std::string, std::vector<double>> beside_spread;
    // A model's own "interference" (as the device's, for that model's frames), where models
    // slow differently beside others (scheduler::SimulatedModel::interference).
    std::map<std::string, std::vector<double>> model_interference;
    // "closed_loop_in_time": the share of a closed-loop client's next frames that reach the
    // scheduler before the slot that ran its last one decides again
    // (scheduler::SimulatedDevice::closed_loop_in_time), measured from a recording of
    // closed-loop clients; absent, 1. The older "closed_loop_after_decision": true reads as 0.
    double closed_loop_in_time = 1.0;
    // "closed_loop_in_time_by_clients": the same share measured with k = 2, 3, ... closed-loop
    // models at once ([k - 2]); it varies with their number (npu-sim: 76% with two, 53% with
    // three, 64% with four). Empty: closed_loop_in_time for any number.
    std::vector<double> closed_loop_in_time_by_clients;
    // The share for a workload of `closed_loop_models` closed-loop models: its own measured
    // figure, else the nearest measured number's, else closed_loop_in_time.
    double closed_loop_share(size_t closed_loop_models) const;
    // A model's own "closed_loop_in_time_by_clients" (in its "models" entry), where the race
    // differs by model (npu-sim, mobilefacenet and nanodet together: 82% and 50%):
    // [k - 2] with k closed-loop models, measured with the first k of the profile's models
    // (where the model was not among them, the device's share for k).
    std::map<std::string, std::vector<double>> model_closed_loop_in_time_by_clients;
    // `model`'s share with `closed_loop_models` closed-loop models: its own, else the device's.
    double closed_loop_share(const std::string& model, size_t closed_loop_models) const;
    // "closed_loop_gap_us_by_clients": where the late frames come, [k - 2] with k closed-loop
    // models: each a list of gaps in microseconds at evenly spaced quantiles, ascending, 0 for
    // a frame in time (scheduler::SimulatedModel::closed_loop_gaps,
    // scheduler/closed_loop_race.hpp). The device's over all models, and a model's own in its
    // "models" entry. Absent: the shares above, which put every late frame just after the
    // decision.
    using ReturnGaps = std::vector<std::chrono::nanoseconds>;
    std::vector<ReturnGaps> closed_loop_gaps_by_clients;
    std::map<std::string, std::vector<ReturnGaps>> model_closed_loop_gaps_by_clients;
    // The gaps for `closed_loop_models` closed-loop models (as closed_loop_share: that number's,
    // else the nearest measured, and for fewer than two the most measured); empty if none.
    const ReturnGaps& closed_loop_gaps(size_t closed_loop_models) const;
    // `model`'s own gaps, else the device's (as closed_loop_share); empty if neither.
    const ReturnGaps& closed_loop_gaps(const std::string& model, size_t closed_loop_models) const;
    // Gaps per number of clients in microseconds, as the profile writes them.
    static std::vector<std::vector<double>> gaps_in_microseconds(
        const std::vector<ReturnGaps>& by_clients);
    // "one_burst_per_model": measured on the cpu device sharing its cores by itself, which runs
    // one burst of a model at a time (scheduler::SimulatedDevice::one_burst_per_model).
    bool one_burst_per_model = false;
    // "speed_share" (0..1) and "speed_memory_us": how the machine's speed moves every model's
    // frame times at once (scheduler::SimulatedDevice::speed_share, speed_memory)
    // (capacity_bench measures it; `corun benchmark --profile` does not write it); absent, 0:
    // every frame's draw independent.
    double speed_share = 0;
    std::chrono::nanoseconds speed_memory{0};
    std::map<std::string, GenerativeTiming> generative;

    bool has_model(const std::string& name) const {
        return models.count(name) > 0 || generative.count(name) > 0;
    }
    std::vector<std::string> model_names() const;
};

struct CapacityProfile {
    // "npu-sim": the file's top level; "cpu": its "cpu" section.
    std::map<std::string, DeviceProfile> devices;

    // NOT_FOUND naming the sections the profile has and the command that writes the missing one.
    Expected<const DeviceProfile*> device(const std::string& kind) const;
};

inline constexpr size_t MOST_SPREAD_POINTS = 64;
inline constexpr double MOST_RETURN_GAP_US = 60e6;  // a minute: a client that came back at all

inline constexpr const char* NPU_SIM_SECTION = "npu-sim";
inline constexpr const char* CPU_SECTION = "cpu";

Expected<CapacityProfile> parse_capacity_profile(const std::string& json_text);
// NOT_FOUND for a file that cannot be opened, naming `corun benchmark ... --profile`.
Expected<CapacityProfile> load_capacity_profile(const std::string& path);
std::string capacity_profile_to_json(const CapacityProfile& profile);

}  // namespace corun::router
