// corun's HailoRT compatibility layer: DmaMappedBuffer. corun's devices read host memory as it
// is (the CPU, and corund through shared memory it copies into), so mapping is a no-op: the
// object only remembers the buffer, and a program that pre-maps its buffers runs unchanged.
#pragma once

#include <cstddef>

#include "hailo/vdevice.hpp"

namespace hailort {

class DmaMappedBuffer final {
public:
    static Expected<DmaMappedBuffer> create(VDevice& vdevice, void* user_address, size_t size,
                                            hailo_dma_buffer_direction_t direction) {
        (void)vdevice;
        (void)direction;
        if (user_address == nullptr || size == 0) {
            return Unexpected(to_hailo_status(
                corun::Status(corun::StatusCode::INVALID_ARGUMENT,
                              "DmaMappedBuffer::create: a null or empty buffer cannot be mapped")));
        }
        return DmaMappedBuffer(user_address, size);
    }

    DmaMappedBuffer(DmaMappedBuffer&&) = default;
    DmaMappedBuffer(const DmaMappedBuffer&) = delete;
    DmaMappedBuffer& operator=(const DmaMappedBuffer&) = delete;
    DmaMappedBuffer& operator=(DmaMappedBuffer&&) = delete;

    void* user_address() { return user_address_; }
    size_t size() const { return size_; }

private:
    DmaMappedBuffer(void* user_address, size_t size) : user_address_(user_address), size_(size) {}
    void* user_address_;
    size_t size_;
};

}  // namespace hailort
