#include "devices/cpu/thread_priority.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

namespace corun::devices::cpu {
namespace {

std::optional<int> nice_of(pid_t thread) {
    // -1 is a valid nice value: only errno tells a failure.
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(thread));
    if (nice == -1 && errno != 0) return std::nullopt;
    return nice;
}

bool set_nice(pid_t thread, int nice) {
    return setpriority(PRIO_PROCESS, static_cast<id_t>(thread), nice) == 0;
}

}  // namespace

pid_t current_thread_id() {
    return static_cast<pid_t>(syscall(SYS_gettid));
}

std::optional<int> lower_thread_priority(pid_t thread) {
    const auto before = nice_of(thread);
    if (!before) return std::nullopt;
    // Already as low (a thread the application runs at low priority): nothing to restore later.
    if (*before >= YIELDING_NICE) return before;
    if (!set_nice(thread, YIELDING_NICE)) return std::nullopt;
    return before;
}

bool restore_thread_priority(pid_t thread, int nice) {
    // Setting the value a thread already has is always allowed: a thread lower_thread_priority
    // found already at YIELDING_NICE comes back without any privilege.
    return set_nice(thread, nice);
}

bool may_restore_thread_priority() {
    static const bool allowed = [] {
        bool restored = false;
        try {
            std::thread probe([&restored] {
                const pid_t self = current_thread_id();
                const auto before = lower_thread_priority(self);
                restored = before && restore_thread_priority(self, *before);
            });
            probe.join();
        } catch (const std::system_error&) {
            // No thread to try it on: frames are stopped, never left lowered.
        }
        return restored;
    }();
    return allowed;
}

}  // namespace corun::devices::cpu
