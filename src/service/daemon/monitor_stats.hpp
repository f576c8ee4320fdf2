// What `corun monitor` shows of one served model, kept as frames complete: frames and device
// time per 100 ms over the last second, and the latency (queue + device) of the last 256 jobs.
// Bounded memory whatever the frame rate.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace corun::service {

struct ActivitySnapshot {
    double fps = 0;             // frames completed over the last second
    int64_t device_ns = 0;      // device time over the last second
    double latency_p50_ms = 0;  // of the last LATENCY_SAMPLES jobs
    double latency_p95_ms = 0;
    uint64_t frames_done = 0;  // since the model was configured
};

class ModelActivity {
public:
    static constexpr size_t LATENCY_SAMPLES = 256;
    using Clock = std::chrono::steady_clock;

    void record(Clock::time_point now, uint32_t frames, int64_t latency_ns, int64_t device_ns);
    ActivitySnapshot snapshot(Clock::time_point now) const;

    // Completions queued for the client's stream but not yet written to it.
    std::atomic<uint32_t> results_waiting_out{0};

private:
    static constexpr int64_t BUCKET_MS = 100;
    static constexpr size_t BUCKETS = 10;  // one second
    struct Bucket {
        int64_t index = -1;  // steady-clock time / BUCKET_MS that this bucket counts
        uint64_t frames = 0;
        int64_t device_ns = 0;
    };

    mutable std::mutex mutex_;
    std::array<Bucket, BUCKETS> buckets_{};
    std::array<int64_t, LATENCY_SAMPLES> latencies_ns_{};
    size_t latency_count_ = 0;  // samples written so far (the ring holds the last 256)
    uint64_t frames_done_ = 0;
};

}  // namespace corun::service
