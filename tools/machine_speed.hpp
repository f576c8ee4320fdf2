// How the machine's speed moves every model's frame times at once (issue 13, P5), for the
// capacity model's draws (scheduler::SimulatedDevice::speed_share, speed_memory).
//
// Measured on this VM in the capacity bench's mixes: the device times of two bursts starting
// within 20 ms of each other correlate by 0.4-0.7 (their normal scores), across models as within
// one, falling to 0 over about a second; drawn independently, slow frames never come together,
// and the predicted queues and p95s came out short (nanodet's p95 with three closed-loop models
// 13-35% under in eight runs out of eight). Measured from each model's frames alone, back to
// back (the profile's phase 1): the correlation of pairs of frames by the time between them,
// fitted with share x exp(-gap / memory). capacity_bench scores it as a variant; the profile does
// not carry it, since side by side it did not improve the predictions here (docs/ROUTER.md).
#pragma once

#include <chrono>
#include <vector>

namespace corun::tools {

// One model's frames back to back: when each started (milliseconds from the first) and its
// device time.
struct FrameSequence {
    std::vector<double> start_ms;
    std::vector<double> device_ms;
};

struct MachineSpeed {
    double share = 0;  // 0..MAX_SPEED_SHARE; 0: no correlation measured
    std::chrono::nanoseconds memory{0};
};

// Pairs within this gap are counted, in bins of 3x (30, 90, 270, 810 ms).
inline constexpr double SPEED_GAP_BINS_MS[] = {0, 30, 90, 270, 810};
// A bin counts with at least this many pairs, and a correlation above this.
inline constexpr size_t SPEED_MIN_PAIRS = 20;
inline constexpr double SPEED_MIN_CORRELATION = 0.02;
// The share is kept below 1: every frame its own draw too.
inline constexpr double MAX_SPEED_SHARE = 0.9;
// Without a decay over the bins (the speed moved slower than they reach): this memory.
inline constexpr std::chrono::milliseconds LONGEST_SPEED_MEMORY{2000};

// The share and memory fitted to `sequences` (each scored within itself, pairs pooled over all
// of them); share 0 when no bin holds a correlation above SPEED_MIN_CORRELATION.
MachineSpeed machine_speed(const std::vector<FrameSequence>& sequences);

}  // namespace corun::tools
