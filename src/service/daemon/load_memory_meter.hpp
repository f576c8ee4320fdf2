// How much memory loading one model took in corund: the daemon's peak resident size while the
// model loaded (constant folding can materialise large tensors, then keep or drop them) and
// what it still holds after. Loads are measured one at a time, so the growth is the model's;
// frames of other clients running meanwhile add only their small working memory.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

namespace corun::service {

struct LoadMemory {
    uint64_t peak_bytes = 0;      // the most the daemon grew while loading
    uint64_t retained_bytes = 0;  // what it still held more after
};

class LoadMemoryMeter {
public:
    // Runs `load` alone among measured loads and returns what it took.
    LoadMemory measure(const std::function<void()>& load);

private:
    std::mutex one_load_at_a_time_;
};

}  // namespace corun::service
