// A workload for the capacity model (corun::CapacityWorkload, include/corun/capacity_plan.hpp)
// checked against the profile it runs on, and turned into the scheduler's simulated models and
// device.
#pragma once

#include <vector>

#include "corun/capacity_plan.hpp"
#include "router/capacity_profile.hpp"
#include "scheduler/virtual_time_simulation.hpp"

namespace corun::router {

// NOT_FOUND for a model the section lacks (naming the ones it has and the command that measures
// one); INVALID_ARGUMENT for a value out of range, naming the model, the value and the range.
Status check_workload(const CapacityWorkload& workload, const DeviceProfile& device);

// Slots the workload plans for: its own, else the profile's.
uint32_t planned_slots(const CapacityWorkload& workload, const DeviceProfile& device);

bool rate_driven(const PlannedModel& model);

// The models as simulate() takes them; the rate of model i is multiplied by rate_scale[i].
std::vector<scheduler::SimulatedModel> simulated_models(const CapacityWorkload& workload,
                                                        const DeviceProfile& device,
                                                        const std::vector<double>& rate_scale);
scheduler::SimulatedDevice simulated_device(const CapacityWorkload& workload,
                                            const DeviceProfile& device);
scheduler::PolicyOptions policy_options(const CapacityWorkload& workload);

}  // namespace corun::router
