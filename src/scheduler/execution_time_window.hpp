// What a model's bursts took lately, for planning: admission control predicts a frame's
// execution from the last few measurements of its model and burst size, and plans with the
// largest of them (Clockwork keeps the last 10 and plans with a high percentile; with 10
// samples the 99th percentile is the largest). A change of execution time (another model
// starts sharing the cores, a thermal limit) moves the prediction within 10 bursts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace corun::scheduler {

class ExecutionTimeWindow {
public:
    static constexpr size_t SIZE = 10;

    void record(uint32_t frames, int64_t nanoseconds);
    // The planning estimate for a burst of `frames`: the largest of the last SIZE
    // measurements of that burst size; without any, the largest per-frame time of the other
    // burst sizes times `frames`; nullopt before the first measurement.
    std::optional<int64_t> predict(uint32_t frames) const;
    bool empty() const { return samples_.empty(); }

private:
    struct Samples {
        std::array<int64_t, SIZE> nanoseconds{};
        size_t count = 0;  // recorded so far; the newest overwrite the oldest
        int64_t largest() const;
    };
    std::map<uint32_t, Samples> samples_;  // by burst size
};

}  // namespace corun::scheduler
