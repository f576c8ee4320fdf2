// The machine's speed as the profile measures it (tools/machine_speed.*): the share and memory
// fitted to frames back to back whose times were made with a known share and memory.
#include "machine_speed.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace corun::tools {
namespace {

// `models` sequences of frames back to back over `seconds`, each frame 4 ms x exp(0.3 x score),
// its score share x the machine's speed (an Ornstein-Uhlenbeck process remembered for
// `memory_ms`, one for all sequences in turn) + the rest its own.
std::vector<FrameSequence> frames_made_with(double share, double memory_ms, int models,
                                            double seconds, uint64_t seed) {
    std::mt19937_64 random(seed);
    std::normal_distribution<double> normal;
    std::vector<FrameSequence> sequences(models);
    double speed = normal(random);
    for (FrameSequence& sequence : sequences) {
        double now_ms = 0;
        while (now_ms < seconds * 1000) {
            const double score = std::sqrt(share) * speed + std::sqrt(1 - share) * normal(random);
            const double device_ms = 4.0 * std::exp(0.3 * score);
            sequence.start_ms.push_back(now_ms);
            sequence.device_ms.push_back(device_ms);
            now_ms += device_ms + 0.1;
            const double kept = std::exp(-(device_ms + 0.1) / memory_ms);
            speed = kept * speed + std::sqrt(1 - kept * kept) * normal(random);
        }
    }
    return sequences;
}

TEST(MachineSpeedTest, TheShareAndMemoryFittedAreTheOnesTheFramesWereMadeWith) {
    for (const auto& [share, memory_ms] : {std::pair{0.6, 200.0}, std::pair{0.3, 80.0}}) {
        const MachineSpeed speed = machine_speed(frames_made_with(share, memory_ms, 8, 10, 7));
        EXPECT_NEAR(speed.share, share, 0.1) << share << " " << memory_ms;
        const double fitted_ms = static_cast<double>(speed.memory.count()) / 1e6;
        EXPECT_NEAR(fitted_ms, memory_ms, 0.35 * memory_ms) << share << " " << memory_ms;
    }
}

TEST(MachineSpeedTest, IndependentFramesHaveNoShare) {
    const MachineSpeed speed = machine_speed(frames_made_with(0.0, 100, 8, 10, 11));
    EXPECT_LT(speed.share, 0.05);
}

TEST(MachineSpeedTest, TooFewFramesMeasureNothing) {
    EXPECT_EQ(machine_speed({}).share, 0.0);
    EXPECT_EQ(machine_speed({FrameSequence{{0.0}, {4.0}}}).share, 0.0);
    // Ten frames hold fewer pairs than a bin needs.
    const auto few = frames_made_with(0.9, 500, 1, 0.04, 3);
    EXPECT_EQ(machine_speed(few).share, 0.0);
}

}  // namespace
}  // namespace corun::tools
