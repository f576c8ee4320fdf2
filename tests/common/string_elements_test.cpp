// The STRING buffer layout (src/common/string_elements.hpp): per element a 4-byte little-endian
// length, then its bytes. Round trips, and the buffers read_string_elements must refuse.
#include "common/string_elements.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace corun::common {
namespace {

std::vector<uint8_t> layout(const std::vector<std::string_view>& elements) {
    std::vector<uint8_t> bytes(string_elements_size(elements));
    EXPECT_TRUE(write_string_elements(elements, bytes.data(), bytes.size()));
    return bytes;
}

TEST(StringElementsTest, RoundTrip) {
    const std::vector<std::string_view> elements = {"a", "", "bcd"};
    const auto bytes = layout(elements);
    EXPECT_EQ(bytes,
              (std::vector<uint8_t>{1, 0, 0, 0, 'a', 0, 0, 0, 0, 3, 0, 0, 0, 'b', 'c', 'd'}));
    const auto read = read_string_elements(bytes.data(), bytes.size(), 3);
    ASSERT_TRUE(read);
    EXPECT_EQ(*read, elements);
}

TEST(StringElementsTest, RefusesMoreOrFewerElementsThanAskedFor) {
    const auto bytes = layout({"a", "bc"});
    EXPECT_FALSE(read_string_elements(bytes.data(), bytes.size(), 1));
    EXPECT_FALSE(read_string_elements(bytes.data(), bytes.size(), 3));
    EXPECT_FALSE(read_string_elements(bytes.data(), bytes.size() - 1, 2));
}

TEST(StringElementsTest, NoElementsInAnEmptyBuffer) {
    const auto read = read_string_elements(nullptr, 0, 0);
    ASSERT_TRUE(read);
    EXPECT_TRUE(read->empty());
}

// Found by tests/fuzz/string_elements_fuzz: the count comes from a stream's shape, and was
// reserved before the buffer was looked at, so a shape of 2^32 elements with a 12-byte buffer
// asked for 64 GiB (out of memory) instead of being refused. A buffer holds at most size / 4.
TEST(StringElementsTest, RefusesACountTheBufferCannotHoldWithoutAllocatingForIt) {
    const auto bytes = layout({"abcdefgh"});
    EXPECT_FALSE(read_string_elements(bytes.data(), bytes.size(), uint64_t{1} << 32));
    EXPECT_FALSE(
        read_string_elements(bytes.data(), bytes.size(), std::numeric_limits<size_t>::max()));
    EXPECT_FALSE(read_string_elements(bytes.data(), bytes.size(), bytes.size() / 4 + 1));
    // Exactly size / 4 empty elements is still a valid buffer.
    const std::vector<uint8_t> three_empty(12, 0);
    const auto read = read_string_elements(three_empty.data(), three_empty.size(), 3);
    ASSERT_TRUE(read);
    EXPECT_EQ(read->size(), 3u);
}

}  // namespace
}  // namespace corun::common
