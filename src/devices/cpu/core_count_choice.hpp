// Whether a frame that may have every core (alone on the device, or urgent) runs faster on
// every core or on one, as this model's own frames measure it (CpuDeviceParams::execution_slots
// 0; docs/SCHEDULER.md, "Sharing the CPU").
//
// Every core is not always faster: a model may gain little from a second thread, and a frame
// that comes after an idle gap (a camera at 10 frames/s) first wakes ONNX Runtime's pool. On this
// project's 2-core machine blazeface-256 at 10 frames/s took a p95 of 23 ms on the pool against
// 10 ms on one core (docs/PERFORMANCE.md). So the device measures: the first frames try both,
// then each frame takes the one whose recent frames were faster (the median of the last
// WINDOW), and every PROBE_EVERY-th frame tries the other again, so that a change (other load,
// another input size) is seen. The first WARM_UP frames of each are not compared: a session's
// first runs are slow (memory arenas growing, the pool's threads starting, the one-core session
// just built), and, recorded, they held the losing side's median for a hundred frames: measured
// here, mobilefacenet's first frames took 14-30 ms on either against 6 ms (every core) and 9
// ms (one) after, and it ran alone on one core at 9 ms until its probes had flushed them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace corun::devices::cpu {

class CoreCountChoice {
public:
    static constexpr size_t WINDOW = 8;       // frames per choice that the median is taken over
    static constexpr size_t WARM_UP = 3;      // first frames of each choice, run but not compared
    static constexpr size_t FIRST_TRIES = 3;  // frames each choice runs before any comparison,
                                              // after its warm-up
    static constexpr uint64_t PROBE_EVERY = 16;

    // Whether the next such frame should run on every core (else on one).
    bool every_core_next();
    // A frame that ran on every core (or on one) took `elapsed`, uninterrupted.
    void record(bool every_core, std::chrono::nanoseconds elapsed);

private:
    struct Times {
        std::array<int64_t, WINDOW> recent{};
        size_t warmed = 0;  // warm-up frames run so far (up to WARM_UP), not in the window
        size_t count = 0;   // recorded so far (the window holds the last min(count, WINDOW))
        int64_t median() const;
    };
    std::mutex mutex_;
    Times every_core_, one_core_;
    uint64_t decisions_ = 0;
};

}  // namespace corun::devices::cpu
