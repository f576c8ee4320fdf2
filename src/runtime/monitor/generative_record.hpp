// What the in-process monitor shows of a generative model beside the scheduler's figures (tokens
// generated, context in use), as corund's monitor shows it for the LLMs it runs: the model keeps
// the counters up to date, the monitor's sampler reads them without a lock.
#pragma once

#include <atomic>
#include <cstdint>

namespace corun::runtime::monitor {

struct GenerativeRecord {
    std::atomic<uint64_t> tokens_generated{0};  // since the model was loaded
    std::atomic<uint64_t> context_used{0};      // tokens in the context now
    std::atomic<uint64_t> context_capacity{0};
};

// One sample of a record, taken by the sampler with the group's scheduler figures.
struct GenerativeSample {
    uint64_t tokens_generated = 0;
    uint64_t context_used = 0;
    uint64_t context_capacity = 0;
};

}  // namespace corun::runtime::monitor
