#include "predicted_trace.hpp"

#include "router/capacity_model.hpp"
#include "runtime/monitor/chrome_trace_writer.hpp"

namespace corun::tools {

Expected<PredictedTrace> write_predicted_trace(const std::string& path, const std::string& group_id,
                                               const router::CapacityProfile& profile,
                                               const CapacityWorkload& workload) {
    CORUN_TRY(auto recording, router::predicted_schedule(profile, workload));
    runtime::monitor::TracedGroup traced;
    traced.group_id = group_id;
    traced.device_names = {workload.device + " (predicted)"};
    traced.recording = std::move(recording);
    CORUN_RETURN_IF_ERROR(
        runtime::monitor::write_trace_file(path, runtime::monitor::chrome_trace_json({traced})));
    return PredictedTrace{traced.recording.bursts.size(), traced.recording.frames.size()};
}

}  // namespace corun::tools
