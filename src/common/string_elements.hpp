// The layout of a STRING stream's buffer (KServe v2's BYTES): each element is a 4-byte
// little-endian length followed by that many bytes, elements back to back. Used by the
// bindings to check a buffer and by devices to read and write one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace corun::common {

// The elements of `size` bytes at `data`, which must hold exactly `count` of them; nullopt
// when a length runs past the end, or there are more or fewer elements.
std::optional<std::vector<std::string_view>> read_string_elements(const void* data, size_t size,
                                                                  size_t count);

// Bytes that `elements` take in the layout.
size_t string_elements_size(const std::vector<std::string_view>& elements);

// Writes `elements` at `data`; false (nothing written) when they need more than `capacity`.
bool write_string_elements(const std::vector<std::string_view>& elements, void* data,
                           size_t capacity);

}  // namespace corun::common
