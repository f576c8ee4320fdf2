// The timing model of a single-context NPU: one model active at a time, a per-model device time
// per frame (and per burst, when a burst is cheaper than its frames), a context-switch cost
// when the active model changes, host pre/post-processing that overlaps device work, and a
// bound on frames in flight per model. Read from a profile file (JSON) that a user writes or
// `corun benchmark` produces:
//
//   {"device": {"context_switch_us": 400},
//    "models": {"nanodet": {"frame_us": 8000, "burst_overhead_us": 0,
//                           "host_pre_us": 900, "host_post_us": 300, "max_in_flight": 4}}}
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "corun/expected.hpp"

namespace corun::devices::npu_sim {

struct ModelTiming {
    std::chrono::nanoseconds frame{0};           // device time per frame
    std::chrono::nanoseconds burst_overhead{0};  // once per burst (weights, setup)
    std::chrono::nanoseconds host_pre{0};        // host work before the device, overlapped
    std::chrono::nanoseconds host_post{0};       // host work after the device, overlapped
    uint32_t max_in_flight = 4;

    // Device time of a burst of `frames` frames of this model.
    std::chrono::nanoseconds burst(uint32_t frames) const {
        return burst_overhead + frames * frame;
    }
};

struct NpuTimingModel {
    std::chrono::nanoseconds context_switch{0};
    std::map<std::string, ModelTiming> models;

    // NOT_FOUND naming the profile's models and how to add one.
    Expected<ModelTiming> timing_of(const std::string& model_name) const;
};

Expected<NpuTimingModel> parse_npu_profile(const std::string& json_text);
Expected<NpuTimingModel> load_npu_profile(const std::string& path);
// A profile file's text: a regular file of at most MAX_NPU_PROFILE_BYTES, opened without
// blocking (a FIFO is refused, not waited on).
inline constexpr uint64_t MAX_NPU_PROFILE_BYTES = uint64_t{1} << 20;
Expected<std::string> read_npu_profile_text(const std::string& path);
// The profile file a VDevice's params name: npu_sim.profile_path, else $CORUN_NPU_SIM_PROFILE,
// else "" (none).
std::string npu_profile_path(const std::string& profile_path);
std::string npu_profile_to_json(const NpuTimingModel& profile);

}  // namespace corun::devices::npu_sim
