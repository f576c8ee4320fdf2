// The fixed-memory latency histogram of `corun run`, `run2`, `benchmark` and `demo` (issue 9):
// on known inputs, every percentile is within LatencyHistogram::RELATIVE_ERROR (1/256) of the
// nearest-rank value of the sorted vector, exact below 256 ns; count, min, max and mean exact;
// merge and clear behave as recording into one histogram.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "latency_histogram.hpp"

namespace corun::tools {
namespace {

constexpr double PERCENTS[] = {0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};

// The nearest-rank percentile of a sorted vector: the ceil(p/100 * n)-th smallest, at least
// the first.
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, double percent) {
    const double rank = std::ceil(percent / 100.0 * static_cast<double>(sorted.size()));
    const auto index = static_cast<size_t>(std::clamp(rank, 1.0, double(sorted.size()))) - 1;
    return sorted[index];
}

// Records `values` and checks every figure against the sorted vector; returns the largest
// relative error seen.
double check_against_sorted(std::vector<uint64_t> values) {
    LatencyHistogram histogram;
    for (const uint64_t value : values) histogram.record(value);
    std::sort(values.begin(), values.end());
    EXPECT_EQ(histogram.count(), values.size());
    EXPECT_EQ(histogram.min_ns(), values.front());
    EXPECT_EQ(histogram.max_ns(), values.back());
    long double sum = 0;
    for (const uint64_t value : values) sum += static_cast<long double>(value);
    EXPECT_DOUBLE_EQ(histogram.mean_ns(),
                     static_cast<double>(sum / static_cast<long double>(values.size())));
    double worst = 0;
    for (const double percent : PERCENTS) {
        const uint64_t exact = exact_percentile(values, percent);
        const uint64_t estimate = histogram.percentile_ns(percent);
        const double error = std::abs(static_cast<double>(estimate) - static_cast<double>(exact));
        EXPECT_LE(error, static_cast<double>(exact) * LatencyHistogram::RELATIVE_ERROR)
            << "p" << percent << ": exact " << exact << ", estimate " << estimate;
        if (exact < 256) {
            EXPECT_EQ(estimate, exact) << "p" << percent;
        }
        if (exact > 0) worst = std::max(worst, error / static_cast<double>(exact));
    }
    return worst;
}

TEST(LatencyHistogramTest, EmptyGivesZeros) {
    const LatencyHistogram histogram;
    EXPECT_EQ(histogram.count(), 0u);
    EXPECT_EQ(histogram.percentile_ns(50), 0u);
    EXPECT_EQ(histogram.min_ns(), 0u);
    EXPECT_EQ(histogram.max_ns(), 0u);
    EXPECT_EQ(histogram.mean_ns(), 0.0);
}

TEST(LatencyHistogramTest, ValuesBelow256NanosecondsAreExact) {
    std::vector<uint64_t> values;
    for (uint64_t value = 0; value < 256; ++value) values.push_back(value);
    EXPECT_EQ(check_against_sorted(values), 0.0);
}

TEST(LatencyHistogramTest, OneValueIsReturnedExactlyByEveryPercentile) {
    // Clamping to the observed min and max makes a constant series exact at any magnitude.
    for (const uint64_t value : {uint64_t{1}, uint64_t{12345678}, uint64_t{1} << 62}) {
        LatencyHistogram histogram;
        for (int i = 0; i < 1000; ++i) histogram.record(value);
        for (const double percent : PERCENTS) EXPECT_EQ(histogram.percentile_ns(percent), value);
    }
}

TEST(LatencyHistogramTest, UniformMillisecondLatenciesAreWithinTheBound) {
    std::mt19937_64 random(7);
    std::uniform_int_distribution<uint64_t> latency(100'000, 50'000'000);  // 0.1 .. 50 ms
    std::vector<uint64_t> values(200'000);
    for (auto& value : values) value = latency(random);
    const double worst = check_against_sorted(values);
    EXPECT_LE(worst, LatencyHistogram::RELATIVE_ERROR);
    EXPECT_GT(worst, 0.0);  // a histogram, not a sorted copy
}

TEST(LatencyHistogramTest, LogUniformOverEveryMagnitudeIsWithinTheBound) {
    std::mt19937_64 random(11);
    std::uniform_real_distribution<double> exponent(0.0, 63.0);
    std::vector<uint64_t> values(100'000);
    for (auto& value : values) value = static_cast<uint64_t>(std::exp2(exponent(random)));
    values.push_back(std::numeric_limits<uint64_t>::max());
    check_against_sorted(values);
}

TEST(LatencyHistogramTest, BucketEdgesAndATailAreWithinTheBound) {
    // Powers of two and their neighbours (bucket edges), and a 1% tail 100x slower.
    std::vector<uint64_t> values;
    for (int bit = 8; bit < 63; ++bit) {
        const uint64_t edge = uint64_t{1} << bit;
        for (const uint64_t value : {edge - 1, edge, edge + 1, edge + edge / 2}) {
            values.push_back(value);
        }
    }
    check_against_sorted(values);
    std::vector<uint64_t> tail;
    for (int i = 0; i < 9900; ++i) tail.push_back(2'000'000 + static_cast<uint64_t>(i) * 7);
    for (int i = 0; i < 100; ++i) tail.push_back(200'000'000 + static_cast<uint64_t>(i) * 991);
    check_against_sorted(tail);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingIntoOneAndClearEmpties) {
    std::mt19937_64 random(3);
    std::uniform_int_distribution<uint64_t> latency(1'000, 9'000'000);
    LatencyHistogram all, first, second;
    for (int i = 0; i < 5000; ++i) {
        const uint64_t value = latency(random);
        all.record(value);
        (i % 3 == 0 ? first : second).record(value);
    }
    first.merge(second);
    EXPECT_EQ(first.count(), all.count());
    EXPECT_EQ(first.min_ns(), all.min_ns());
    EXPECT_EQ(first.max_ns(), all.max_ns());
    EXPECT_EQ(first.mean_ns(), all.mean_ns());
    for (const double percent : PERCENTS) {
        EXPECT_EQ(first.percentile_ns(percent), all.percentile_ns(percent)) << percent;
    }
    first.clear();
    EXPECT_EQ(first.count(), 0u);
    EXPECT_EQ(first.percentile_ns(50), 0u);
    first.record(42);
    EXPECT_EQ(first.min_ns(), 42u);
    EXPECT_EQ(first.percentile_ns(99), 42u);
}

}  // namespace
}  // namespace corun::tools
