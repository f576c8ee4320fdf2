// The schedule the capacity model predicts for a workload, written as a Chrome trace in the
// format of `corun run2 --trace` (`corun plan --trace`, `capacity_bench --trace`; docs/ROUTER.md,
// "Seeing the predicted schedule beside the measured one").
#pragma once

#include <string>

#include "corun/capacity_plan.hpp"
#include "router/capacity_profile.hpp"

namespace corun::tools {

// The simulation of `workload` over its horizon, one device named "DEVICE (predicted)" in group
// `group_id`, written to `path`. Returns the bursts and frames it holds, for a report line.
struct PredictedTrace {
    size_t bursts = 0;
    size_t frames = 0;
};
Expected<PredictedTrace> write_predicted_trace(const std::string& path, const std::string& group_id,
                                               const router::CapacityProfile& profile,
                                               const CapacityWorkload& workload);

}  // namespace corun::tools
