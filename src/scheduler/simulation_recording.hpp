// A simulation as the threaded scheduler would have recorded it (SchedulerRecording): every
// burst with its decision, every frame that reached the scheduler, each queue's depth. The
// Chrome trace writer then draws the predicted schedule exactly as it draws a measured one
// (`corun run2 --trace`), so the two can be opened side by side (`corun plan --trace`,
// `capacity_bench --trace`; docs/ROUTER.md, "Seeing the predicted schedule").
#pragma once

#include <vector>

#include "scheduler/scheduler_recording.hpp"
#include "scheduler/virtual_time_simulation.hpp"

namespace corun::scheduler {

// Models get the ids 1..N in the order of `models` (as the simulation gives them to the
// policy), named after them; the device is one device with the simulated slots. Virtual time
// starts at the recording's origin (origin_steady_ns 0).
SchedulerRecording recording_of_simulation(const SimulationResult& result,
                                           const std::vector<SimulatedModel>& models,
                                           const SimulatedDevice& device);

}  // namespace corun::scheduler
