// Keeps a ConfiguredInferModel's async queue full for a number of frames or seconds and records
// each frame's latency; `corun run` (and later run2/benchmark) drive models with it.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "corun/corun.hpp"

namespace corun::tools {

struct PumpProgress {
    uint64_t frames_done = 0;
    double seconds = 0;
};

struct PumpOptions {
    uint64_t frames = 0;  // stop after this many frames (0 = no limit)
    double seconds = 0;   // stop after this long (0 = no limit)
    std::function<void(const PumpProgress&)> on_progress;  // about once a second
};

struct PumpResult {
    uint64_t frames = 0;
    double seconds = 0;
    std::vector<double> total_ms;       // run_async() to completion, per frame
    std::vector<double> device_ms;      // device execution only
    std::vector<double> conversion_ms;  // host-side format conversion
};

// `slots` are the bindings to cycle through, one per queue entry; each slot's buffers are
// reused only after its previous frame completed. Stops at the first failed frame.
Expected<PumpResult> pump_frames(ConfiguredInferModel& model,
                                 std::vector<ConfiguredInferModel::Bindings>& slots,
                                 const PumpOptions& options);

}  // namespace corun::tools
