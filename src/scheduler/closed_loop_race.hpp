// The race after each completion of a closed-loop client's frame, measured from a recording: the
// job completes (waking the client, which sends its next frame) and the worker then charges the
// burst and decides again. Which is first varies frame by frame; the capacity model simulates
// the share (SimulatedDevice::closed_loop_in_time, the profile's cpu.device.closed_loop_in_time)
// that `corun benchmark --profile` measures with this.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "scheduler/scheduler_recording.hpp"

namespace corun::scheduler {

// Of the frames after which their model sent another while another model had a frame queued
// (so that the slot decided at once, and the race mattered), the share whose next frame was
// queued by the time the device next decided: the first burst on the same device's shared
// slots that starts at or after the frame's burst ended. 1 when no frame says (nothing raced).
// The recording is of one client per model (a model's next frame is that client's).
double closed_loop_in_time_of(const SchedulerRecording& recording);

// The same share per model (by scheduler model id), over that model's frames only: the race
// differs by model (npu-sim, mobilefacenet with nanodet: 82% and 50%), as a fast model's client
// is back sooner than a slow one's. A model with no frame that raced is absent.
std::map<uint64_t, double> closed_loop_in_time_by_model(const SchedulerRecording& recording);

// Over the same frames, how long after its frame's burst ended the client's next frame reached
// the scheduler: 0 for a frame in time, else its gap after the decision (within the slot's
// anticipation window, a holding slot catches it; after it, not). The share in time alone
// places every late frame at one point, though where they come differs by device and model
// (SimulatedModel::closed_loop_gaps). `points` gaps at evenly spaced quantiles (each bin's
// middle), ascending; with fewer frames than points, one per frame; empty when none raced.
std::vector<std::chrono::nanoseconds> closed_loop_gaps_of(const SchedulerRecording& recording,
                                                          size_t points);
// The same per model (by scheduler model id); a model none of whose frames raced is absent.
std::map<uint64_t, std::vector<std::chrono::nanoseconds>> closed_loop_gaps_by_model(
    const SchedulerRecording& recording, size_t points);

}  // namespace corun::scheduler
