// libFuzzer target for the STRING buffer layout (src/common/string_elements.hpp: per element a
// 4-byte little-endian length, then its bytes), which Bindings::InferStream::set_buffer checks
// on a user's buffer and the cpu device reads. The first 4 bytes are the element count the
// caller expects (as a stream's shape gives it, any value), the rest the buffer. When the
// buffer is accepted: the elements lie inside it in order, their layout size is the buffer's,
// write_string_elements writes back the same bytes, and refuses a buffer one byte short.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/string_elements.hpp"
#include "fuzz_fail.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4) return 0;
    uint32_t count = 0;
    std::memcpy(&count, data, 4);
    // A copy of exactly the buffer's bytes, so that ASan sees any read past its end.
    const std::vector<uint8_t> buffer(data + 4, data + size);
    const auto elements = corun::common::read_string_elements(buffer.data(), buffer.size(), count);
    if (!elements) return 0;
    if (elements->size() != count) fail("a different number of elements than asked for");
    const char* const begin = reinterpret_cast<const char*>(buffer.data());
    const char* position = begin;
    for (const auto& element : *elements) {
        if (element.data() != position + 4) fail("an element not where the layout puts it");
        position = element.data() + element.size();
    }
    if (position != begin + buffer.size()) fail("elements that do not end at the buffer's end");
    if (corun::common::string_elements_size(*elements) != buffer.size()) {
        fail("string_elements_size differs from the buffer's size");
    }
    std::vector<uint8_t> written(buffer.size());
    if (!corun::common::write_string_elements(*elements, written.data(), written.size())) {
        fail("write_string_elements refused the room the elements came in");
    }
    if (written != buffer) fail("write_string_elements wrote different bytes");
    if (!buffer.empty()) {
        std::vector<uint8_t> short_room(buffer.size() - 1);
        if (corun::common::write_string_elements(*elements, short_room.data(), short_room.size())) {
            fail("write_string_elements accepted a buffer one byte short");
        }
    }
    return 0;
}
