// A client's shared-memory region, mapped into the daemon for as long as the client keeps it
// registered and no frame uses it. Unmapped when the last holder lets go.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "corun/expected.hpp"

namespace corun::service {

class SharedMemoryMapping {
public:
    // Opens `name` (already checked against is_valid_shm_name), checks it holds at least
    // `size` bytes and maps those MAP_SHARED; the descriptor is closed at once.
    // `owner_uid` (when set): the region's file must belong to that user, so that a client
    // cannot have corund map another user's region by guessing its name.
    static Expected<std::shared_ptr<SharedMemoryMapping>> open(
        const std::string& name, uint64_t size, std::optional<uint32_t> owner_uid = std::nullopt);
    ~SharedMemoryMapping();
    SharedMemoryMapping(const SharedMemoryMapping&) = delete;
    SharedMemoryMapping& operator=(const SharedMemoryMapping&) = delete;

    uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }
    const std::string& name() const { return name_; }
    // Whether the client shrank the region under a frame (docs/SERVICE.md, "Faults"): its pages
    // now read as zeros; frames that used it and later references fail.
    bool faulted() const;
    // The error for a frame that used a faulted region.
    Status fault_status() const;

    // Frames queued or running that read or write this region; ReleaseBuffer waits for 0.
    std::atomic<uint64_t> frames_in_flight{0};

private:
    SharedMemoryMapping(std::string name, uint8_t* data, uint64_t size, size_t guard_slot)
        : name_(std::move(name)), data_(data), size_(size), guard_slot_(guard_slot) {}
    std::string name_;
    uint8_t* data_;
    uint64_t size_;
    size_t guard_slot_;  // SharedMemoryFaultGuard
};

}  // namespace corun::service
