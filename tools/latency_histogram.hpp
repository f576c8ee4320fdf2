// Latencies of any number of frames in fixed memory, for the percentiles `corun run`, `run2`,
// `benchmark` and `demo` print: a run of an hour keeps the same 59 KB per histogram as a run
// of a second (a vector of every frame grew by 8 bytes a frame per figure, without bound).
//
// A log-linear histogram of nanoseconds: values below 256 ns have a bucket each; above, every
// power of two [2^e, 2^(e+1)) is cut into 128 equal buckets of width 2^(e-7). A percentile is
// the middle of the bucket that holds the nearest-rank value, clamped to the observed min and
// max. The exact value v lies in that bucket, whose width is at most 1/128 of its lower bound,
// so the answer is within v / 256 of v (0.39%); below 256 ns it is exact. Count, min, max and
// mean are exact.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace corun::tools {

class LatencyHistogram {
public:
    // The bound on |percentile_ns(p) - exact| as a fraction of the exact value.
    static constexpr double RELATIVE_ERROR = 1.0 / 256.0;

    void record(uint64_t nanoseconds) {
        ++counts_[bucket_of(nanoseconds)];
        ++count_;
        sum_ns_ += static_cast<long double>(nanoseconds);
        min_ns_ = std::min(min_ns_, nanoseconds);
        max_ns_ = std::max(max_ns_, nanoseconds);
    }

    // Adds another histogram's frames (recent-window histograms into a total, say).
    void merge(const LatencyHistogram& other) {
        for (size_t i = 0; i < BUCKETS; ++i) counts_[i] += other.counts_[i];
        count_ += other.count_;
        sum_ns_ += other.sum_ns_;
        min_ns_ = std::min(min_ns_, other.min_ns_);
        max_ns_ = std::max(max_ns_, other.max_ns_);
    }

    void clear() {
        std::fill(counts_.begin(), counts_.end(), 0);
        count_ = max_ns_ = 0;
        sum_ns_ = 0;
        min_ns_ = std::numeric_limits<uint64_t>::max();
    }

    uint64_t count() const { return count_; }
    bool empty() const { return count_ == 0; }
    uint64_t min_ns() const { return count_ == 0 ? 0 : min_ns_; }
    uint64_t max_ns() const { return max_ns_; }
    double mean_ns() const {
        return count_ == 0 ? 0.0 : static_cast<double>(sum_ns_ / static_cast<long double>(count_));
    }

    // Nearest rank, as a sorted vector would give: the ceil(percent / 100 * count)-th smallest
    // value (at least the first), within RELATIVE_ERROR of it. 0 when empty.
    uint64_t percentile_ns(double percent) const {
        if (count_ == 0) return 0;
        const double wanted = std::ceil(percent / 100.0 * static_cast<double>(count_));
        const auto rank = static_cast<uint64_t>(std::clamp(wanted, 1.0, double(count_)));
        uint64_t seen = 0;
        for (size_t i = 0; i < BUCKETS; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::clamp(middle_of(i), min_ns(), max_ns_);
        }
        return max_ns_;
    }

    double percentile_ms(double percent) const { return percentile_ns(percent) / 1e6; }

private:
    static constexpr int SUB_BUCKET_BITS = 7;                       // 128 buckets per octave
    static constexpr uint64_t EXACT_BELOW = 2u << SUB_BUCKET_BITS;  // 256 ns
    static constexpr size_t BUCKETS = (64 - SUB_BUCKET_BITS - 1) * 128 + 256;  // 7424

    static size_t bucket_of(uint64_t value) {
        if (value < EXACT_BELOW) return static_cast<size_t>(value);
        const int top_bit = 63 - std::countl_zero(value);  // >= 8
        const int shift = top_bit - SUB_BUCKET_BITS;       // >= 1
        // value >> shift is in [128, 256): the bucket within the octave, offset by 128.
        return static_cast<size_t>(shift) * 128 + static_cast<size_t>(value >> shift);
    }

    static uint64_t middle_of(size_t bucket) {
        if (bucket < EXACT_BELOW) return bucket;
        const size_t shift = bucket / 128 - 1;
        const uint64_t lower = static_cast<uint64_t>(bucket % 128 + 128) << shift;
        return lower + (uint64_t{1} << (shift - 1));  // widths are 2^shift, shift >= 1
    }

    // On the heap, allocated once, so that results holding histograms move cheaply.
    std::vector<uint64_t> counts_ = std::vector<uint64_t>(BUCKETS, 0);
    uint64_t count_ = 0;
    long double sum_ns_ = 0;  // 64-bit mantissa: exact below 2^64 ns (584 years)
    uint64_t min_ns_ = std::numeric_limits<uint64_t>::max();
    uint64_t max_ns_ = 0;
};

}  // namespace corun::tools
