#include "common/string_elements.hpp"

#include <cstring>

namespace corun::common {

std::optional<std::vector<std::string_view>> read_string_elements(const void* data, size_t size,
                                                                  size_t count) {
    // Each element takes at least its 4-byte length, so a buffer of `size` bytes holds at most
    // size / 4 of them. Checked before reserving: `count` comes from a stream's shape, which
    // the caller does not bound by the buffer (a shape of 2^32 elements with a 16-byte buffer
    // would otherwise reserve 64 GiB).
    if (count > size / 4) return std::nullopt;
    const auto* bytes = static_cast<const uint8_t*>(data);
    std::vector<std::string_view> elements;
    elements.reserve(count);
    size_t position = 0;
    while (elements.size() < count) {
        if (size - position < 4) return std::nullopt;
        const uint32_t length = static_cast<uint32_t>(bytes[position]) |
                                static_cast<uint32_t>(bytes[position + 1]) << 8 |
                                static_cast<uint32_t>(bytes[position + 2]) << 16 |
                                static_cast<uint32_t>(bytes[position + 3]) << 24;
        position += 4;
        if (length > size - position) return std::nullopt;
        elements.emplace_back(reinterpret_cast<const char*>(bytes + position), length);
        position += length;
    }
    if (position != size) return std::nullopt;
    return elements;
}

size_t string_elements_size(const std::vector<std::string_view>& elements) {
    size_t size = 0;
    for (const auto& element : elements) size += 4 + element.size();
    return size;
}

bool write_string_elements(const std::vector<std::string_view>& elements, void* data,
                           size_t capacity) {
    if (string_elements_size(elements) > capacity) return false;
    auto* bytes = static_cast<uint8_t*>(data);
    for (const auto& element : elements) {
        const auto length = static_cast<uint32_t>(element.size());
        for (int i = 0; i < 4; ++i) *bytes++ = static_cast<uint8_t>(length >> (8 * i));
        if (!element.empty()) std::memcpy(bytes, element.data(), element.size());
        bytes += element.size();
    }
    return true;
}

}  // namespace corun::common
