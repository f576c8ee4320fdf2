#include "service/daemon/load_memory_meter.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace corun::service {
namespace {

// VmRSS and VmHWM of this process, in bytes.
struct ResidentSize {
    uint64_t current = 0;
    uint64_t peak = 0;
};

ResidentSize resident_size() {
    ResidentSize size;
    std::ifstream status("/proc/self/status");
    std::string key;
    uint64_t kib = 0;
    std::string unit;
    while (status >> key) {
        if (key == "VmRSS:" && status >> kib >> unit) size.current = kib << 10;
        if (key == "VmHWM:" && status >> kib >> unit) size.peak = kib << 10;
    }
    return size;
}

// Linux resets the peak (VmHWM) to the current size when "5" is written to clear_refs.
bool reset_peak() {
    const int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool done = write(fd, "5", 1) == 1;
    close(fd);
    return done;
}

}  // namespace

LoadMemory LoadMemoryMeter::measure(const std::function<void()>& load) {
    std::lock_guard lock(one_load_at_a_time_);
    const bool peak_reset = reset_peak();
    const ResidentSize before = resident_size();
    load();
    const ResidentSize after = resident_size();
    LoadMemory memory;
    memory.retained_bytes = after.current > before.current ? after.current - before.current : 0;
    // Without a reset peak, the growth that stayed is the best measure there is.
    const uint64_t peak = peak_reset ? std::max(after.peak, after.current) : after.current;
    memory.peak_bytes = peak > before.current ? peak - before.current : 0;
    memory.peak_bytes = std::max(memory.peak_bytes, memory.retained_bytes);
    return memory;
}

}  // namespace corun::service
