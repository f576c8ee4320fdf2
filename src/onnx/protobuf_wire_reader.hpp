// The protobuf wire format, read by hand: tags, varints, fixed-width values and length-delimited
// payloads, with no knowledge of any schema. A schema's parser walks a message with
// MessageReader::next() and decides what each field number means; unknown fields cost nothing
// (next() has already stepped over them).
//
// Safety: every read goes through MessageReader, which knows the [begin, end) of the message
// it reads and checks each varint, fixed-width value and length against it before touching a
// byte. A length is compared with the bytes that remain before anything is sized from it, so
// memory stays proportional to the input. Malformed bytes give INVALID_MODEL naming the byte
// offset and the message path, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "corun/expected.hpp"

namespace corun::onnx::wire {

enum class WireType : uint32_t {
    VARINT = 0,
    FIXED64 = 1,
    LEN = 2,
    START_GROUP = 3,
    END_GROUP = 4,
    FIXED32 = 5,
};

// "varint", "64-bit", "length-delimited", ...: for error messages.
const char* wire_type_name(WireType type);

// Where in the schema a reader is, for error messages: the message and field names from the
// root down, joined with dots ("Outer.inner.field"). Each level lives on the stack of the
// function parsing it; joined into text only on error.
struct MessagePath {
    const char* name;
    const MessagePath* parent = nullptr;

    std::string to_string() const;
};

// One field as read from the wire. For LEN fields the payload is [begin, end) of the whole
// buffer; for the others `scalar` holds the varint value or the fixed-width bits.
struct Field {
    uint32_t number = 0;
    WireType wire_type = WireType::VARINT;
    uint64_t scalar = 0;
    size_t begin = 0;  // offset of the value (after the tag), for messages and errors
    size_t end = 0;
};

enum class VarintResult { OK, TRUNCATED, TOO_LONG };

// Decodes a base-128 varint at buffer[pos], not reading at or past `end`; advances `pos`.
VarintResult decode_varint(std::span<const uint8_t> buffer, size_t& pos, size_t end,
                           uint64_t& value);

// Little-endian loads of 4 and 8 bytes at buffer[pos]. Not checked here: the caller has
// already checked that the bytes lie inside the field or message it reads.
uint32_t load_le32(std::span<const uint8_t> buffer, size_t pos);
uint64_t load_le64(std::span<const uint8_t> buffer, size_t pos);

// Reads the fields of one message, [begin, end) of `buffer`, in order.
class MessageReader {
public:
    MessageReader(std::span<const uint8_t> buffer, size_t begin, size_t end,
                  const MessagePath& path)
        : buffer_(buffer), pos_(begin), end_(end), path_(path) {}

    bool done() const { return pos_ >= end_; }
    const MessagePath& path() const { return path_; }
    std::span<const uint8_t> buffer() const { return buffer_; }

    // A reader over the payload of a LEN field of this message.
    MessageReader nested(const Field& field, const MessagePath& path) const {
        return MessageReader(buffer_, field.begin, field.end, path);
    }

    // INVALID_MODEL: "<what> at byte <offset> in <path>".
    Status invalid(const std::string& what, size_t offset) const;

    // Reads the next field's tag and value; the caller checks done() first.
    Expected<Field> next();

private:
    Status read_varint(uint64_t& value, const char* what);

    std::span<const uint8_t> buffer_;
    size_t pos_;
    size_t end_;
    const MessagePath& path_;
};

// Checks that a known field arrived with the wire type its schema gives it.
Status expect_wire_type(const MessageReader& reader, const Field& field, WireType expected,
                        const char* field_name);

// A string or bytes field (LEN).
Expected<std::string> read_string(const MessageReader& reader, const Field& field,
                                  const char* field_name);

// An int64, int32 or enum field (VARINT), two's complement as protobuf writes it.
Expected<int64_t> read_int64(const MessageReader& reader, const Field& field,
                             const char* field_name);

// A repeated varint field, packed (one LEN field) or not (one VARINT field per value).
// `sink(uint64_t)` returns a Status; an error stops the read and is returned.
template <typename Sink>
Status read_repeated_varint(const MessageReader& reader, const Field& field, const char* field_name,
                            Sink&& sink) {
    if (field.wire_type == WireType::VARINT) return sink(field.scalar);
    CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, field_name));
    size_t pos = field.begin;
    while (pos < field.end) {
        const size_t start = pos;
        uint64_t value = 0;
        if (decode_varint(reader.buffer(), pos, field.end, value) != VarintResult::OK) {
            return reader.invalid(std::string("malformed packed varint in ") + field_name, start);
        }
        CORUN_RETURN_IF_ERROR(sink(value));
    }
    return Status::ok();
}

// A repeated fixed-width field (`width` 4 or 8 bytes), packed or not; `sink` gets the bits.
template <typename Sink>
Status read_repeated_fixed(const MessageReader& reader, const Field& field, size_t width,
                           const char* field_name, Sink&& sink) {
    const WireType single = width == 4 ? WireType::FIXED32 : WireType::FIXED64;
    if (field.wire_type == single) return sink(field.scalar);
    CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, field_name));
    if ((field.end - field.begin) % width != 0) {
        return reader.invalid(std::string("packed ") + field_name + " is " +
                                  std::to_string(field.end - field.begin) +
                                  " bytes, not a multiple of " + std::to_string(width),
                              field.begin);
    }
    for (size_t pos = field.begin; pos < field.end; pos += width) {
        const uint64_t bits =
            width == 4 ? load_le32(reader.buffer(), pos) : load_le64(reader.buffer(), pos);
        CORUN_RETURN_IF_ERROR(sink(bits));
    }
    return Status::ok();
}

}  // namespace corun::onnx::wire
