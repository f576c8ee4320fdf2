#include "frame_pump.hpp"

#include <chrono>
#include <mutex>
#include <optional>

namespace corun::tools {

Expected<PumpResult> pump_frames(ConfiguredInferModel& model,
                                 std::vector<ConfiguredInferModel::Bindings>& slots,
                                 const PumpOptions& options) {
    using Clock = std::chrono::steady_clock;
    if (slots.empty()) return Status(StatusCode::INVALID_ARGUMENT, "pump_frames: no bindings");
    if (options.frames == 0 && options.seconds <= 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "give a frame count or a time to run (e.g. --frames-count 100 or "
                      "--time-to-run 5)");
    }
    PumpResult result;
    std::mutex result_mutex;
    Status first_error;
    std::vector<std::optional<AsyncInferJob>> jobs(slots.size());
    const auto start = Clock::now();
    auto last_progress = start;
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

    uint64_t submitted = 0;
    while ((options.frames == 0 || submitted < options.frames) &&
           (options.seconds <= 0 || elapsed() < options.seconds)) {
        const size_t slot = submitted % slots.size();
        if (jobs[slot]) {
            jobs[slot]->wait(std::chrono::milliseconds::max()).ignore();
            jobs[slot].reset();
        }
        {
            std::lock_guard lock(result_mutex);
            if (!first_error.is_ok()) break;
        }
        CORUN_RETURN_IF_ERROR(model.wait_for_async_ready(std::chrono::seconds(60)));
        auto job = model.run_async(slots[slot], [&](const AsyncInferCompletionInfo& info) {
            std::lock_guard lock(result_mutex);
            if (!info.status.is_ok()) {
                if (first_error.is_ok()) first_error = info.status;
                return;
            }
            ++result.frames;
            result.total_ms.push_back(static_cast<double>(info.timing.total_ns) / 1e6);
            result.device_ms.push_back(static_cast<double>(info.timing.device_ns) / 1e6);
            result.conversion_ms.push_back(static_cast<double>(info.timing.conversion_ns) / 1e6);
        });
        if (!job) return job.status();
        jobs[slot].emplace(job.release());
        ++submitted;
        if (options.on_progress && Clock::now() - last_progress >= std::chrono::seconds(1)) {
            last_progress = Clock::now();
            std::lock_guard lock(result_mutex);
            options.on_progress({result.frames, elapsed()});
        }
    }
    for (auto& job : jobs) {
        if (job) job->wait(std::chrono::milliseconds::max()).ignore();
    }
    result.seconds = elapsed();
    if (!first_error.is_ok()) return first_error;
    return result;
}

}  // namespace corun::tools
