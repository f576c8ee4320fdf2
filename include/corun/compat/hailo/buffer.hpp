// corun's HailoRT compatibility layer: MemoryView, a user buffer that corun never owns, with
// HailoRT's accessors (data(), size()).
#pragma once

#include <cstddef>
#include <cstdint>

#include "corun/configured_infer_model.hpp"

namespace hailort {

class MemoryView {
public:
    MemoryView() = default;
    MemoryView(void* data, size_t size) : data_(data), size_(size) {}
    // A view of memory corun only reads (an input).
    static MemoryView create_const(const void* data, size_t size) {
        return MemoryView(const_cast<void*>(data), size);
    }

    uint8_t* data() const { return static_cast<uint8_t*>(data_); }
    size_t size() const { return size_; }
    bool empty() const { return data_ == nullptr || size_ == 0; }

    corun::MemoryView to_corun() const { return corun::MemoryView(data_, size_); }

private:
    void* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace hailort
