#include "service/daemon/monitor_stats.hpp"

#include <algorithm>
#include <vector>

namespace corun::service {
namespace {

int64_t bucket_index(ModelActivity::Clock::time_point now, int64_t bucket_ms) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() /
           bucket_ms;
}

double nearest_rank_ms(const std::vector<int64_t>& sorted, double percent) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<size_t>(percent / 100.0 * static_cast<double>(sorted.size()));
    return static_cast<double>(sorted[std::min(rank, sorted.size() - 1)]) / 1e6;
}

}  // namespace

void ModelActivity::record(Clock::time_point now, uint32_t frames, int64_t latency_ns,
                           int64_t device_ns) {
    const int64_t index = bucket_index(now, BUCKET_MS);
    std::lock_guard lock(mutex_);
    Bucket& bucket = buckets_[static_cast<size_t>(index) % BUCKETS];
    if (bucket.index != index) bucket = Bucket{index, 0, 0};
    bucket.frames += frames;
    bucket.device_ns += device_ns;
    latencies_ns_[latency_count_ % LATENCY_SAMPLES] = latency_ns;
    ++latency_count_;
    frames_done_ += frames;
}

ActivitySnapshot ModelActivity::snapshot(Clock::time_point now) const {
    const int64_t newest = bucket_index(now, BUCKET_MS);
    ActivitySnapshot snapshot;
    std::vector<int64_t> latencies;
    {
        std::lock_guard lock(mutex_);
        uint64_t frames = 0;
        for (const Bucket& bucket : buckets_) {
            if (bucket.index > newest - static_cast<int64_t>(BUCKETS) && bucket.index <= newest) {
                frames += bucket.frames;
                snapshot.device_ns += bucket.device_ns;
            }
        }
        snapshot.fps = static_cast<double>(frames);  // the window is one second
        snapshot.frames_done = frames_done_;
        const size_t count = std::min(latency_count_, LATENCY_SAMPLES);
        latencies.assign(latencies_ns_.begin(), latencies_ns_.begin() + count);
    }
    std::sort(latencies.begin(), latencies.end());
    snapshot.latency_p50_ms = nearest_rank_ms(latencies, 50);
    snapshot.latency_p95_ms = nearest_rank_ms(latencies, 95);
    return snapshot;
}

}  // namespace corun::service
