// libFuzzer target for runtime::convert_frame (src/runtime/format_conversion.hpp), which turns a
// user's frame into the model's native format and back for every numeric FormatType pair, with
// quantization and the NHWC <-> NCHW transpose. Layouts, quant info and bytes all come from the
// input; convert_frame must never read or write outside the two buffers, never hit undefined
// behaviour (float -> integer casts included), and accept buffers only when each is exactly
// its layout's size as counted without overflow. Same type, no transpose: a plain copy.
//
// Input: [from type][to type][orders + flags][ranks][scale f32][zero point f32][dims][data];
// seeds in tests/fuzz/convert_frame_corpus (type byte b is FormatType 1 + b % 13, order bits o
// are FormatOrder 1 + o % 5).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "fuzz_fail.hpp"
#include "runtime/format_conversion.hpp"

namespace {

using corun::FormatOrder;
using corun::FormatType;
using corun::runtime::FrameLayout;

// Reads from the input front to back; zeros once it runs out.
struct InputCursor {
    const uint8_t* data;
    size_t size;
    size_t position = 0;

    uint8_t byte() { return position < size ? data[position++] : 0; }
    template <typename T>
    T value() {
        T out{};
        uint8_t raw[sizeof(T)] = {};
        for (auto& b : raw) b = byte();
        std::memcpy(&out, raw, sizeof(T));
        return out;
    }
};

// UINT8 .. UINT64: every numeric FormatType (AUTO and STRING have no fixed element size).
FormatType numeric_type(uint8_t byte) {
    return static_cast<FormatType>(1 + byte % static_cast<int>(FormatType::UINT64));
}

FormatOrder order_of(uint8_t bits) {
    return static_cast<FormatOrder>(1 + bits % static_cast<int>(FormatOrder::FLAT));
}

// The layout's byte size counted without overflow; nullopt when it overflows (or a dim is
// negative: such a layout has no size).
std::optional<uint64_t> checked_byte_size(const FrameLayout& layout) {
    uint64_t count = 1;
    for (const int64_t dim : layout.dims) {
        if (dim < 0) return std::nullopt;
        if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count)) return std::nullopt;
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(count, corun::format_type_size(layout.type), &bytes)) {
        return std::nullopt;
    }
    return bytes;
}

constexpr uint64_t kMaxTargetBytes = 1 << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    InputCursor in{data, size};
    FrameLayout source, target;
    source.type = numeric_type(in.byte());
    target.type = numeric_type(in.byte());
    const uint8_t flags = in.byte();
    source.order = order_of(flags & 7);
    target.order = order_of((flags >> 3) & 7);
    const bool independent_target_dims = flags & 0x40;  // else the source's, reordered
    const bool wide_dims = flags & 0x80;                // any int64, else a signed byte
    const uint8_t ranks = in.byte();
    corun::QuantInfo quant;
    quant.scale = in.value<float>();
    quant.zero_point = in.value<float>();
    auto read_dims = [&](size_t rank) {
        std::vector<int64_t> dims;
        for (size_t i = 0; i < rank; ++i) {
            dims.push_back(wide_dims ? in.value<int64_t>()
                                     : static_cast<int64_t>(static_cast<int8_t>(in.byte())));
        }
        return dims;
    };
    source.dims = read_dims(ranks % 6);
    target.dims = independent_target_dims
                      ? read_dims((ranks >> 4) % 6)
                      : corun::runtime::reorder_dims(source.dims, source.order, target.order);

    // The rest is the source frame, copied so that ASan sees a read past its end.
    const std::vector<uint8_t> frame(data + in.position, data + std::max(in.position, size));
    const auto target_size = checked_byte_size(target);
    std::vector<uint8_t> out(target_size && *target_size <= kMaxTargetBytes ? *target_size : 16);
    const corun::Status status = corun::runtime::convert_frame(
        frame.data(), frame.size(), source, out.data(), out.size(), target, quant);
    if (!status.is_ok()) {
        if (status.message().empty()) fail("an error without a message");
        return 0;
    }
    const auto source_size = checked_byte_size(source);
    if (!source_size || *source_size != frame.size()) fail("a source of the wrong size accepted");
    if (!target_size || *target_size != out.size()) fail("a target of the wrong size accepted");
    if (source.type == target.type && corun::runtime::is_same_layout(source, target) &&
        out != frame) {
        fail("same type, no transpose, but not a copy");
    }
    return 0;
}
