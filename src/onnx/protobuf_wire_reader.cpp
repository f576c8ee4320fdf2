// The protobuf wire reader: each read is checked against the end of the message it reads (see
// the header for why that keeps every input safe).
#include "onnx/protobuf_wire_reader.hpp"

#include <string>

namespace corun::onnx::wire {

const char* wire_type_name(WireType type) {
    switch (type) {
        case WireType::VARINT:
            return "varint";
        case WireType::FIXED64:
            return "64-bit";
        case WireType::LEN:
            return "length-delimited";
        case WireType::START_GROUP:
            return "start-group";
        case WireType::END_GROUP:
            return "end-group";
        case WireType::FIXED32:
            return "32-bit";
    }
    return "unknown";
}

std::string MessagePath::to_string() const {
    if (parent == nullptr) return name;
    return parent->to_string() + "." + name;
}

VarintResult decode_varint(std::span<const uint8_t> buffer, size_t& pos, size_t end,
                           uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= end) return VarintResult::TRUNCATED;
        const uint8_t byte = buffer[pos++];
        value |= static_cast<uint64_t>(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) return VarintResult::OK;
    }
    return VarintResult::TOO_LONG;  // more than 10 bytes: no valid encoder writes that
}

uint32_t load_le32(std::span<const uint8_t> buffer, size_t pos) {
    uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = (value << 8) | buffer[pos + static_cast<size_t>(i)];
    return value;
}

uint64_t load_le64(std::span<const uint8_t> buffer, size_t pos) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | buffer[pos + static_cast<size_t>(i)];
    return value;
}

Status MessageReader::invalid(const std::string& what, size_t offset) const {
    return Status(StatusCode::INVALID_MODEL,
                  what + " at byte " + std::to_string(offset) + " in " + path_.to_string());
}

Expected<Field> MessageReader::next() {
    Field field;
    const size_t tag_offset = pos_;
    uint64_t tag = 0;
    CORUN_RETURN_IF_ERROR(read_varint(tag, "tag"));
    field.number = static_cast<uint32_t>(tag >> 3);
    field.wire_type = static_cast<WireType>(tag & 0x7);
    if (field.number == 0 || (tag >> 3) > 0x1FFFFFFF) {
        return invalid("invalid field number " + std::to_string(tag >> 3), tag_offset);
    }
    field.begin = pos_;
    switch (field.wire_type) {
        case WireType::VARINT:
            CORUN_RETURN_IF_ERROR(read_varint(field.scalar, "varint"));
            break;
        case WireType::FIXED64:
            if (end_ - pos_ < 8) return invalid("truncated 64-bit value", pos_);
            field.scalar = load_le64(buffer_, pos_);
            pos_ += 8;
            break;
        case WireType::FIXED32:
            if (end_ - pos_ < 4) return invalid("truncated 32-bit value", pos_);
            field.scalar = load_le32(buffer_, pos_);
            pos_ += 4;
            break;
        case WireType::LEN: {
            uint64_t length = 0;
            CORUN_RETURN_IF_ERROR(read_varint(length, "length"));
            if (length > end_ - pos_) {
                return invalid("length " + std::to_string(length) + " of field " +
                                   std::to_string(field.number) + " runs past the end (" +
                                   std::to_string(end_ - pos_) + " bytes left)",
                               field.begin);
            }
            field.begin = pos_;
            pos_ += static_cast<size_t>(length);
            break;
        }
        default:
            // Groups are deprecated (proto2) and refused, as no schema read with this uses
            // them; wire types 6 and 7 do not exist.
            return invalid("unsupported wire type " + std::to_string(tag & 0x7) + " for field " +
                               std::to_string(field.number),
                           tag_offset);
    }
    field.end = pos_;
    return field;
}

Status MessageReader::read_varint(uint64_t& value, const char* what) {
    const size_t start = pos_;
    switch (decode_varint(buffer_, pos_, end_, value)) {
        case VarintResult::OK:
            return Status::ok();
        case VarintResult::TRUNCATED:
            return invalid(std::string("truncated varint (") + what + ")", start);
        case VarintResult::TOO_LONG:
            return invalid(std::string("varint longer than 10 bytes (") + what + ")", start);
    }
    return invalid("unreadable varint", start);
}

Status expect_wire_type(const MessageReader& reader, const Field& field, WireType expected,
                        const char* field_name) {
    if (field.wire_type == expected) return Status::ok();
    return reader.invalid(std::string("field ") + std::to_string(field.number) + " (" + field_name +
                              ") has wire type " + wire_type_name(field.wire_type) + ", expected " +
                              wire_type_name(expected),
                          field.begin);
}

Expected<std::string> read_string(const MessageReader& reader, const Field& field,
                                  const char* field_name) {
    CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, field_name));
    const auto bytes = reader.buffer().subspan(field.begin, field.end - field.begin);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

Expected<int64_t> read_int64(const MessageReader& reader, const Field& field,
                             const char* field_name) {
    CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::VARINT, field_name));
    return static_cast<int64_t>(field.scalar);
}

}  // namespace corun::onnx::wire
