// Little-endian integers read from a file's bytes (WAV headers, image headers); the callers check
// that `at` and the bytes after it are inside `bytes` first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace corun::tasks {

inline uint32_t le16(std::span<const uint8_t> bytes, size_t at) {
    return uint32_t{bytes[at]} | (uint32_t{bytes[at + 1]} << 8);
}

inline uint32_t le32(std::span<const uint8_t> bytes, size_t at) {
    return le16(bytes, at) | (le16(bytes, at + 2) << 16);
}

}  // namespace corun::tasks
