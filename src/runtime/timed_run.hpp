// run() for callers inside corun that account for each frame (the router): the public run()
// returns a Status only, as HailoRT's does, and a frame's timing (the scheduler's prediction at
// admission included, corund's for a remote model) would otherwise be lost to them.
#pragma once

#include <chrono>
#include <optional>

#include "corun/configured_infer_model.hpp"

namespace corun::runtime {

// ConfiguredInferModel::run, with the job's deadline if given, and the job's timing into
// `timing` when it ran or was refused at admission (left as it was when the call timed out or
// could not queue the job).
Status run_with_timing(const ConfiguredInferModel& configured,
                       const ConfiguredInferModel::Bindings& bindings,
                       std::optional<std::chrono::steady_clock::time_point> deadline,
                       std::chrono::milliseconds timeout, InferTiming& timing);

}  // namespace corun::runtime
