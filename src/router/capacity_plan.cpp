// corun::CapacityPlanner (include/corun/capacity_plan.hpp) over the router's capacity model.
#include "corun/capacity_plan.hpp"

#include "router/capacity_model.hpp"
#include "router/capacity_profile.hpp"

namespace corun {

struct CapacityPlanner::Profile {
    router::CapacityProfile parsed;
};

Expected<CapacityPlanner> CapacityPlanner::from_file(const std::string& profile_path) {
    CORUN_TRY(auto parsed, router::load_capacity_profile(profile_path));
    return CapacityPlanner(std::make_shared<const Profile>(Profile{std::move(parsed)}));
}

Expected<CapacityPlanner> CapacityPlanner::from_json(const std::string& profile_json) {
    CORUN_TRY(auto parsed, router::parse_capacity_profile(profile_json));
    return CapacityPlanner(std::make_shared<const Profile>(Profile{std::move(parsed)}));
}

std::vector<std::string> CapacityPlanner::model_names(const std::string& device) const {
    auto section = profile_->parsed.device(device);
    return section ? (*section)->model_names() : std::vector<std::string>{};
}

Expected<CapacityPrediction> CapacityPlanner::predict(const CapacityWorkload& workload) const {
    return router::predict(profile_->parsed, workload);
}

}  // namespace corun
