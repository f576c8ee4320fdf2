// Where a frame on every core runs: its caller's thread on the first core the process may use,
// its model's pool threads one on each of the next (CpuDeviceParams::execution_slots 0;
// docs/SCHEDULER.md, "Sharing the CPU").
//
// Unpinned, how the OS placed the caller and a pool's thread after an idle gap decided a frame's
// time: on this project's 2-core VM, blazeface-256 at 10 frames/s on two threads took a median
// of 6.7-14.1 ms depending on the process, 6.7-8.8 ms pinned, and an urgent camera's p95 beside
// two saturating models went from 12.99 to 10.52 ms (docs/PERFORMANCE.md, issue 13 item 5).
#pragma once

#include <sched.h>

#include <cstdint>
#include <string>
#include <vector>

namespace corun::devices::cpu {

// The CPUs the calling thread may run on (its affinity mask, a container's cpuset included),
// ascending; empty if it cannot be read.
std::vector<int> allowed_cpus();

// ONNX Runtime's session.intra_op_thread_affinities for a pool of `pool_threads` (the caller's
// thread and pool_threads - 1 workers): worker i on cpus[i] (ids 1-based, as ORT takes them),
// cpus[0] left to the caller. Empty (no pinning) with fewer CPUs than threads or one thread.
std::string pool_affinities(const std::vector<int>& cpus, uint32_t pool_threads);

// Pins the calling thread to `cpu` for its lifetime, then gives it back the CPUs it had.
class PinnedToCpu {
public:
    explicit PinnedToCpu(int cpu);
    ~PinnedToCpu();
    PinnedToCpu(const PinnedToCpu&) = delete;
    PinnedToCpu& operator=(const PinnedToCpu&) = delete;

private:
    cpu_set_t before_;
    bool pinned_ = false;
};

}  // namespace corun::devices::cpu
