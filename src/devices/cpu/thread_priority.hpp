// The OS priority (nice value) of the threads that run frames on the cpu device. While an urgent
// frame runs, the frames beside it on one core yield their cores to it by running at
// YIELDING_NICE instead of being stopped and run again (docs/SCHEDULER.md, "Sharing the CPU"):
// the OS then gives the urgent frame's threads nearly all of the cores at once, at every
// instruction rather than at ONNX Runtime's next node, and no work is lost.
//
// Lowering a thread's priority is always allowed; raising it back is not: it needs CAP_SYS_NICE
// or an RLIMIT_NICE that allows the thread's nice value (an unprivileged process on Linux
// defaults to neither). Where it is not allowed the device stops frames instead, as before.
#pragma once

#include <sys/types.h>

#include <optional>

namespace corun::devices::cpu {

// The nice value of a frame yielding to an urgent one: the least priority, so that the urgent
// frame gets about 98% of a core it shares with the yielding one (Linux's weights: 1024 for
// nice 0 against 15 for nice 19). Measured with sharing_bench --urgent-only (docs/PERFORMANCE.md,
// issue 13 item 5).
constexpr int YIELDING_NICE = 19;

// The calling thread's id, as the priority calls take it.
pid_t current_thread_id();

// Sets `thread`'s nice value to YIELDING_NICE; returns the value it had, or nothing if it could
// not be read or set.
std::optional<int> lower_thread_priority(pid_t thread);

// Sets `thread`'s nice value back to `nice`; false if the OS refused.
bool restore_thread_priority(pid_t thread, int nice);

// Whether this process may raise a lowered thread's priority back, tried once on a thread of its
// own (so that no thread of the caller's is left lowered).
bool may_restore_thread_priority();

}  // namespace corun::devices::cpu
