// Keeps corund alive when a client shrinks a registered shared-memory region (ftruncate) and a
// frame then touches the cut-off pages: the kernel raises SIGBUS on that access. POSIX shared
// memory cannot be sealed against shrinking, so corund guards every mapping instead (as Wayland
// compositors guard client buffers): its SIGBUS handler finds the mapping the fault fell in,
// maps private zero pages over the whole of it and marks it faulted, and the access goes on.
// The session then fails the frames that used it, and every later reference, with an error
// naming the region; corund's own data and other clients are untouched.
#pragma once

#include <cstddef>
#include <cstdint>

#include "corun/expected.hpp"

namespace corun::service {

class SharedMemoryFaultGuard {
public:
    // Most mappings guarded at once (every client's regions together).
    static constexpr size_t CAPACITY = 4096;

    // Installs the SIGBUS handler (once per process). A fault outside every guarded mapping
    // goes to the handler that was there before, or kills the process as it would have.
    static void install();
    // Guards [data, data + size) (data page aligned, as mmap returns it) and returns its slot;
    // RESOURCE_LIMIT when CAPACITY mappings are guarded already.
    static Expected<size_t> guard(void* data, size_t size);
    // Stops guarding the slot; call before unmapping it.
    static void unguard(size_t slot);
    // Whether a fault fell in the slot's mapping since it was guarded.
    static bool faulted(size_t slot);
};

}  // namespace corun::service
