#include "machine_speed.hpp"

#include "common/standard_normal.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

namespace corun::tools {
namespace {

constexpr size_t BINS = std::size(SPEED_GAP_BINS_MS) - 1;

// Each frame's normal score by its rank among the sequence's device times (ties in order).
std::vector<double> scores_by_rank(const std::vector<double>& values) {
    std::vector<size_t> order(values.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return values[x] < values[y]; });
    std::vector<double> scores(values.size());
    for (size_t rank = 0; rank < order.size(); ++rank) {
        scores[order[rank]] = StandardNormal::inv_cdf((static_cast<double>(rank) + 0.5) /
                                                      static_cast<double>(values.size()));
    }
    return scores;
}

struct GapBin {
    double products = 0, first_squares = 0, second_squares = 0, gaps_ms = 0;
    size_t pairs = 0;
};

}  // namespace

MachineSpeed machine_speed(const std::vector<FrameSequence>& sequences) {
    std::array<GapBin, BINS> bins{};
    for (const FrameSequence& sequence : sequences) {
        const size_t frames = std::min(sequence.start_ms.size(), sequence.device_ms.size());
        if (frames < 2) continue;
        const std::vector<double> scores = scores_by_rank(
            std::vector<double>(sequence.device_ms.begin(), sequence.device_ms.begin() + frames));
        for (size_t i = 0; i < frames; ++i) {
            for (size_t j = i + 1; j < frames; ++j) {
                const double gap = sequence.start_ms[j] - sequence.start_ms[i];
                if (gap >= SPEED_GAP_BINS_MS[BINS]) break;
                const auto above = std::upper_bound(std::begin(SPEED_GAP_BINS_MS),
                                                    std::end(SPEED_GAP_BINS_MS), gap);
                if (above == std::begin(SPEED_GAP_BINS_MS)) continue;  // out of order
                GapBin& bin = bins[static_cast<size_t>(above - std::begin(SPEED_GAP_BINS_MS)) - 1];
                bin.products += scores[i] * scores[j];
                bin.first_squares += scores[i] * scores[i];
                bin.second_squares += scores[j] * scores[j];
                bin.gaps_ms += gap;
                ++bin.pairs;
            }
        }
    }
    // log(correlation) against the gap, least squares over the bins that hold a correlation.
    double weight = 0, sum_gap = 0, sum_log = 0, sum_gap_gap = 0, sum_gap_log = 0;
    size_t counted = 0;
    for (const GapBin& bin : bins) {
        if (bin.pairs < SPEED_MIN_PAIRS || !(bin.first_squares > 0 && bin.second_squares > 0)) {
            continue;
        }
        const double correlation = bin.products / std::sqrt(bin.first_squares * bin.second_squares);
        if (!(correlation > SPEED_MIN_CORRELATION)) continue;
        // The log of a small correlation is a noisy one: weighted by pairs x correlation^2
        // (the variance of log r is about that of r over r^2).
        const double w = static_cast<double>(bin.pairs) * correlation * correlation;
        const double gap = bin.gaps_ms / static_cast<double>(bin.pairs);
        const double log_correlation = std::log(correlation);
        weight += w;
        sum_gap += w * gap;
        sum_log += w * log_correlation;
        sum_gap_gap += w * gap * gap;
        sum_gap_log += w * gap * log_correlation;
        ++counted;
    }
    MachineSpeed speed;
    if (counted == 0) return speed;
    const double mean_gap = sum_gap / weight, mean_log = sum_log / weight;
    const double spread = sum_gap_gap / weight - mean_gap * mean_gap;
    const double slope =
        counted > 1 && spread > 0 ? (sum_gap_log / weight - mean_gap * mean_log) / spread : 0.0;
    double memory_ms = std::chrono::duration<double, std::milli>(LONGEST_SPEED_MEMORY).count();
    double log_share = mean_log;  // no decay: the mean correlation
    if (slope < 0) {
        memory_ms = std::min(memory_ms, -1.0 / slope);
        log_share = mean_log - slope * mean_gap;  // the fit at gap 0
    }
    speed.share = std::clamp(std::exp(log_share), 0.0, MAX_SPEED_SHARE);
    speed.memory = std::chrono::nanoseconds(std::llround(memory_ms * 1e6));
    return speed;
}

}  // namespace corun::tools
