#include "scheduler/closed_loop_race.hpp"

#include <map>
#include <vector>

namespace corun::scheduler {

double closed_loop_in_time_of(const SchedulerRecording& recording) {
    std::map<uint64_t, std::vector<const RecordedFrame*>> frames_of;
    for (const auto& frame : recording.frames) frames_of[frame.model_id].push_back(&frame);
    size_t in_time = 0, counted = 0;
    for (const auto& entry : frames_of) {
        const std::vector<const RecordedFrame*>& frames = entry.second;
        for (size_t f = 0; f + 1 < frames.size(); ++f) {
            if (frames[f]->burst < 0) continue;
            const auto b = static_cast<size_t>(frames[f]->burst);
            if (b >= recording.bursts.size()) continue;
            const RecordedBurst& ran = recording.bursts[b];
            if (ran.end == NOT_ENDED || ran.latency_slot) continue;
            for (size_t next = b + 1; next < recording.bursts.size(); ++next) {
                const RecordedBurst& decided = recording.bursts[next];
                if (decided.device_index != ran.device_index || decided.latency_slot ||
                    decided.start < ran.end) {
                    continue;
                }
                ++counted;
                if (frames[f + 1]->submitted <= decided.start) ++in_time;
                break;
            }
        }
    }
    return counted > 0 ? static_cast<double>(in_time) / static_cast<double>(counted) : 1.0;
}

}  // namespace corun::scheduler
