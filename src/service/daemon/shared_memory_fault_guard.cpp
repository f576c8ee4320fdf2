#include "service/daemon/shared_memory_fault_guard.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <mutex>
#include <string>

namespace corun::service {
namespace {

// One guarded mapping. The handler reads these with nothing but atomic loads (async-signal
// safe); `start` is written last on guard and cleared first on unguard.
struct GuardedMapping {
    std::atomic<uintptr_t> start{0};  // 0 = free slot
    std::atomic<uintptr_t> end{0};
    std::atomic<bool> faulted{false};
};

std::array<GuardedMapping, SharedMemoryFaultGuard::CAPACITY> guarded;
std::mutex slots_mutex;  // guard/unguard only; never taken in the handler
struct sigaction previous_action {};

void forward_to_previous(int signal_number, siginfo_t* info, void* context) {
    if ((previous_action.sa_flags & SA_SIGINFO) != 0 && previous_action.sa_sigaction != nullptr) {
        previous_action.sa_sigaction(signal_number, info, context);
        return;
    }
    if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN &&
        previous_action.sa_handler != nullptr) {
        previous_action.sa_handler(signal_number);
        return;
    }
    // No handler before ours: restore the default action; the access faults again on return
    // and the process ends as it would have without the guard.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    sigaction(signal_number, &default_action, nullptr);
}

void on_bus_error(int signal_number, siginfo_t* info, void* context) {
    const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
    for (GuardedMapping& mapping : guarded) {
        const uintptr_t start = mapping.start.load(std::memory_order_acquire);
        if (start == 0 || address < start) continue;
        const uintptr_t end = mapping.end.load(std::memory_order_acquire);
        if (address >= end) continue;
        // Zero pages over the whole mapping: the faulting access is retried and succeeds, and
        // nothing reads the client's (now meaningless) data again.
        void* replaced = mmap(reinterpret_cast<void*>(start), end - start, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (replaced == MAP_FAILED) break;
        mapping.faulted.store(true, std::memory_order_release);
        return;
    }
    forward_to_previous(signal_number, info, context);
}

}  // namespace

void SharedMemoryFaultGuard::install() {
    static std::once_flag installed;
    std::call_once(installed, [] {
        struct sigaction action {};
        action.sa_sigaction = on_bus_error;
        action.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        sigaction(SIGBUS, &action, &previous_action);
    });
}

Expected<size_t> SharedMemoryFaultGuard::guard(void* data, size_t size) {
    install();
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto start = reinterpret_cast<uintptr_t>(data);
    const uintptr_t end = start + (size + page - 1) / page * page;
    std::lock_guard lock(slots_mutex);
    for (size_t slot = 0; slot < guarded.size(); ++slot) {
        GuardedMapping& mapping = guarded[slot];
        if (mapping.start.load(std::memory_order_relaxed) != 0) continue;
        mapping.faulted.store(false, std::memory_order_relaxed);
        mapping.end.store(end, std::memory_order_release);
        mapping.start.store(start, std::memory_order_release);
        return slot;
    }
    return Status(StatusCode::RESOURCE_LIMIT,
                  "corund has " + std::to_string(CAPACITY) +
                      " shared-memory regions registered, its limit for all clients together; "
                      "release regions (ReleaseBuffer) or reuse them");
}

void SharedMemoryFaultGuard::unguard(size_t slot) {
    std::lock_guard lock(slots_mutex);
    guarded.at(slot).start.store(0, std::memory_order_release);
}

bool SharedMemoryFaultGuard::faulted(size_t slot) {
    return guarded.at(slot).faulted.load(std::memory_order_acquire);
}

}  // namespace corun::service
