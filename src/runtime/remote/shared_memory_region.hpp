// A block of memory shared with corund: the client creates it with a fresh name, maps it, hands
// the name to the daemon (RegisterBuffer), then unlinks the name whatever the reply, so the
// region disappears with the last process that maps it and nothing leaks in /dev/shm when
// either side dies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "corun/expected.hpp"

namespace corun::service {

class SharedMemoryRegion {
public:
    // A zero-filled region of `size` bytes named "/corun.<pid>.<counter>", created with
    // O_EXCL (mode 0660) and mapped read-write. OUT_OF_HOST_MEMORY / FILE_OPERATION_FAILURE
    // with the errno text when the system refuses.
    static Expected<SharedMemoryRegion> create(size_t size);

    SharedMemoryRegion(SharedMemoryRegion&& other) noexcept;
    SharedMemoryRegion& operator=(SharedMemoryRegion&& other) noexcept;
    SharedMemoryRegion(const SharedMemoryRegion&) = delete;
    SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;
    // Unmaps, and unlinks the name if unlink() was not called.
    ~SharedMemoryRegion();

    // Removes the name from /dev/shm; the mapping stays valid. Idempotent.
    void unlink();

    const std::string& name() const { return name_; }
    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }

private:
    SharedMemoryRegion(std::string name, uint8_t* data, size_t size)
        : name_(std::move(name)), data_(data), size_(size) {}
    void release();

    std::string name_;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
    bool linked_ = true;
};

}  // namespace corun::service
