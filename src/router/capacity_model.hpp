// The capacity model: predicts what a workload gets from a device by running corun's
// scheduling policy in virtual time (scheduler::simulate) over the measured profile, and
// searches the headroom (how much more rate fits) by bisection on a rate multiplier.
#pragma once

#include "corun/capacity_plan.hpp"
#include "router/capacity_profile.hpp"
#include "scheduler/scheduler_recording.hpp"

namespace corun::router {

Expected<CapacityPrediction> predict(const CapacityProfile& profile,
                                     const CapacityWorkload& workload);

// The schedule the prediction of `workload` is made from (its one simulation at the workload's
// rates, over its horizon) as the threaded scheduler would have recorded it, for a timeline
// beside a measured one (scheduler/simulation_recording.hpp).
Expected<scheduler::SchedulerRecording> predicted_schedule(const CapacityProfile& profile,
                                                           const CapacityWorkload& workload);

// Nearest-rank percentile (0..100) of `values`; 0 when empty.
double percentile_of(std::vector<double> values, double percent);

}  // namespace corun::router
