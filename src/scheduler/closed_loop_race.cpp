#include "scheduler/closed_loop_race.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace corun::scheduler {
namespace {

// Each model's queue depth over time, from the recording's samples (in time order).
class QueueDepths {
public:
    explicit QueueDepths(const SchedulerRecording& recording) {
        for (const auto& sample : recording.queue_depths) {
            samples_[sample.model_id].push_back({sample.time, sample.frames_queued});
        }
    }
    // Whether a model other than `model_id` had a frame queued just before `time` (before any
    // decision taken at that instant).
    bool other_queued_before(uint64_t model_id, TimePoint time) const {
        for (const auto& [other, samples] : samples_) {
            if (other == model_id) continue;
            auto after = std::lower_bound(samples.begin(), samples.end(), time,
                                          [](const std::pair<TimePoint, uint32_t>& sample,
                                             TimePoint t) { return sample.first < t; });
            if (after != samples.begin() && std::prev(after)->second > 0) return true;
        }
        return false;
    }

private:
    std::map<uint64_t, std::vector<std::pair<TimePoint, uint32_t>>> samples_;
};

// Per model: of its frames that raced, how many were in time, and each one's return gap.
struct RaceCount {
    size_t in_time = 0;
    size_t counted = 0;
    std::vector<std::chrono::nanoseconds> gaps;  // 0 for a frame in time
};

std::map<uint64_t, RaceCount> race_counts(const SchedulerRecording& recording) {
    std::map<uint64_t, std::vector<const RecordedFrame*>> frames_of;
    for (const auto& frame : recording.frames) frames_of[frame.model_id].push_back(&frame);
    const QueueDepths depths(recording);
    std::map<uint64_t, RaceCount> counts;
    for (const auto& [model_id, frames] : frames_of) {
        for (size_t f = 0; f + 1 < frames.size(); ++f) {
            if (frames[f]->burst < 0) continue;
            const auto b = static_cast<size_t>(frames[f]->burst);
            if (b >= recording.bursts.size()) continue;
            const RecordedBurst& ran = recording.bursts[b];
            if (ran.end == NOT_ENDED || ran.latency_slot) continue;
            // Uncontested, the slot waits for whatever comes: the race decides nothing.
            if (!depths.other_queued_before(model_id, ran.end)) continue;
            for (size_t next = b + 1; next < recording.bursts.size(); ++next) {
                const RecordedBurst& decided = recording.bursts[next];
                if (decided.device_index != ran.device_index || decided.latency_slot ||
                    decided.start < ran.end) {
                    continue;
                }
                RaceCount& count = counts[model_id];
                ++count.counted;
                const bool in_time = frames[f + 1]->submitted <= decided.start;
                if (in_time) ++count.in_time;
                count.gaps.push_back(in_time ? std::chrono::nanoseconds(0)
                                             : frames[f + 1]->submitted - ran.end);
                break;
            }
        }
    }
    return counts;
}

double share_of(const RaceCount& count) {
    return static_cast<double>(count.in_time) / static_cast<double>(count.counted);
}

// The gaps at `points` evenly spaced quantiles (each bin's middle), linear between the sorted
// gaps; with fewer gaps than points, one point per gap.
std::vector<std::chrono::nanoseconds> quantiles_of(std::vector<std::chrono::nanoseconds> gaps,
                                                   size_t points) {
    points = std::min(points, gaps.size());
    if (points == 0) return {};
    std::sort(gaps.begin(), gaps.end());
    std::vector<std::chrono::nanoseconds> quantiles;
    for (size_t k = 0; k < points; ++k) {
        const double position = (static_cast<double>(k) + 0.5) / static_cast<double>(points) *
                                static_cast<double>(gaps.size() - 1);
        const auto below = static_cast<size_t>(position);
        const size_t above = std::min(below + 1, gaps.size() - 1);
        const double share = position - static_cast<double>(below);
        const double gap = static_cast<double>(gaps[below].count()) +
                           share * static_cast<double>((gaps[above] - gaps[below]).count());
        quantiles.emplace_back(static_cast<int64_t>(std::llround(gap)));
    }
    return quantiles;
}

}  // namespace

double closed_loop_in_time_of(const SchedulerRecording& recording) {
    RaceCount all;
    for (const auto& [model_id, count] : race_counts(recording)) {
        all.in_time += count.in_time;
        all.counted += count.counted;
    }
    return all.counted > 0 ? share_of(all) : 1.0;
}

std::map<uint64_t, double> closed_loop_in_time_by_model(const SchedulerRecording& recording) {
    std::map<uint64_t, double> shares;
    for (const auto& [model_id, count] : race_counts(recording)) {
        if (count.counted > 0) shares[model_id] = share_of(count);
    }
    return shares;
}

std::vector<std::chrono::nanoseconds> closed_loop_gaps_of(const SchedulerRecording& recording,
                                                          size_t points) {
    std::vector<std::chrono::nanoseconds> all;
    for (const auto& [model_id, count] : race_counts(recording)) {
        all.insert(all.end(), count.gaps.begin(), count.gaps.end());
    }
    return quantiles_of(std::move(all), points);
}

std::map<uint64_t, std::vector<std::chrono::nanoseconds>> closed_loop_gaps_by_model(
    const SchedulerRecording& recording, size_t points) {
    std::map<uint64_t, std::vector<std::chrono::nanoseconds>> gaps;
    for (auto& [model_id, count] : race_counts(recording)) {
        auto quantiles = quantiles_of(std::move(count.gaps), points);
        if (!quantiles.empty()) gaps[model_id] = std::move(quantiles);
    }
    return gaps;
}

}  // namespace corun::scheduler
