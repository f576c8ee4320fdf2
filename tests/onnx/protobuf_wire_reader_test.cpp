// Tests for the protobuf wire reader on hand-built bytes: each wire type, varints at their
// limits, lengths past the end, nested messages, unknown fields stepped over and groups refused,
// with the exact INVALID_MODEL messages (offset and path) that corrupt input gets.
#include "onnx/protobuf_wire_reader.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace corun::onnx::wire {
namespace {

using Bytes = std::vector<uint8_t>;

const MessagePath kRoot{"Test"};

// The first field of `bytes`, read as one whole message.
Expected<Field> first_field(const Bytes& bytes) {
    MessageReader reader(bytes, 0, bytes.size(), kRoot);
    return reader.next();
}

// The INVALID_MODEL message of a failed read; "" (and a test failure) for anything else.
template <typename T>
std::string error_of(const Expected<T>& result) {
    EXPECT_FALSE(result.has_value());
    if (result.has_value()) return "";
    EXPECT_EQ(result.status().code(), StatusCode::INVALID_MODEL) << result.status();
    return result.status().message();
}

std::string error_of(const Status& status) {
    EXPECT_EQ(status.code(), StatusCode::INVALID_MODEL) << status;
    return status.message();
}

// --- decode_varint ---

struct DecodedVarint {
    VarintResult result;
    uint64_t value;
    size_t pos;  // where decoding stopped
};

DecodedVarint decode(const Bytes& bytes, size_t pos, size_t end) {
    uint64_t value = 0;
    const VarintResult result = decode_varint(bytes, pos, end, value);
    return {result, value, pos};
}

DecodedVarint decode(const Bytes& bytes) {
    return decode(bytes, 0, bytes.size());
}

TEST(WireDecodeVarint, OneByte) {
    for (const uint8_t byte : Bytes{0x00, 0x01, 0x7F}) {
        const auto decoded = decode({byte});
        EXPECT_EQ(decoded.result, VarintResult::OK);
        EXPECT_EQ(decoded.value, byte);
        EXPECT_EQ(decoded.pos, 1u);
    }
}

TEST(WireDecodeVarint, TwoBytes) {
    const auto decoded = decode({0xAC, 0x02});
    EXPECT_EQ(decoded.result, VarintResult::OK);
    EXPECT_EQ(decoded.value, 300u);
    EXPECT_EQ(decoded.pos, 2u);
}

TEST(WireDecodeVarint, StartsAtPosAndStopsAfterTheLastByte) {
    const auto decoded = decode({0x05, 0x96, 0x01, 0x07}, 1, 4);
    EXPECT_EQ(decoded.result, VarintResult::OK);
    EXPECT_EQ(decoded.value, 150u);
    EXPECT_EQ(decoded.pos, 3u);
}

TEST(WireDecodeVarint, TenBytesHoldTheLargestValue) {
    const auto decoded = decode({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01});
    EXPECT_EQ(decoded.result, VarintResult::OK);
    EXPECT_EQ(decoded.value, std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(decoded.pos, 10u);
}

TEST(WireDecodeVarint, PaddingWithinTenBytesIsAccepted) {
    // 1 written in three bytes: protobuf's own parsers accept it, and so does this one.
    const auto decoded = decode({0x81, 0x80, 0x00});
    EXPECT_EQ(decoded.result, VarintResult::OK);
    EXPECT_EQ(decoded.value, 1u);
    EXPECT_EQ(decoded.pos, 3u);
}

TEST(WireDecodeVarint, ElevenBytesAreTooLong) {
    EXPECT_EQ(decode({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}).result,
              VarintResult::TOO_LONG);
    // Zero padded to eleven bytes: overlong even though the value fits.
    EXPECT_EQ(decode({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}).result,
              VarintResult::TOO_LONG);
}

TEST(WireDecodeVarint, TruncatedWhenTheInputEndsWithAContinuationBit) {
    EXPECT_EQ(decode({}).result, VarintResult::TRUNCATED);
    EXPECT_EQ(decode({0x80}).result, VarintResult::TRUNCATED);
    EXPECT_EQ(decode({0xFF, 0xFF, 0xFF, 0xFF, 0xFF}).result, VarintResult::TRUNCATED);
}

TEST(WireDecodeVarint, NeverReadsAtOrPastEnd) {
    // The byte that would end the varint lies at `end`: the message ends first.
    EXPECT_EQ(decode({0x96, 0x01}, 0, 1).result, VarintResult::TRUNCATED);
    EXPECT_EQ(decode({0x01}, 1, 1).result, VarintResult::TRUNCATED);
}

// --- Little-endian loads, wire type names, paths ---

TEST(WireLoadLittleEndian, ReadsFourAndEightBytesAtAnOffset) {
    const Bytes bytes = {0xAA, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    EXPECT_EQ(load_le32(bytes, 1), 0x04030201u);
    EXPECT_EQ(load_le64(bytes, 1), 0x0807060504030201u);
}

TEST(WireTypeName, NamesEachWireType) {
    EXPECT_STREQ(wire_type_name(WireType::VARINT), "varint");
    EXPECT_STREQ(wire_type_name(WireType::FIXED64), "64-bit");
    EXPECT_STREQ(wire_type_name(WireType::LEN), "length-delimited");
    EXPECT_STREQ(wire_type_name(WireType::START_GROUP), "start-group");
    EXPECT_STREQ(wire_type_name(WireType::END_GROUP), "end-group");
    EXPECT_STREQ(wire_type_name(WireType::FIXED32), "32-bit");
    EXPECT_STREQ(wire_type_name(static_cast<WireType>(6)), "unknown");
}

TEST(WireMessagePath, JoinsNamesFromTheRoot) {
    const MessagePath child{"child", &kRoot};
    const MessagePath grandchild{"grandchild", &child};
    EXPECT_EQ(kRoot.to_string(), "Test");
    EXPECT_EQ(grandchild.to_string(), "Test.child.grandchild");
}

// --- MessageReader::next: one field of each wire type ---

TEST(WireMessageReader, EmptyMessageIsDone) {
    const Bytes bytes;
    const MessageReader reader(bytes, 0, 0, kRoot);
    EXPECT_TRUE(reader.done());
}

TEST(WireMessageReader, ReadsAVarintField) {
    const Bytes bytes = {0x08, 0x96, 0x01};  // field 1 = 150
    MessageReader reader(bytes, 0, bytes.size(), kRoot);
    const auto field = reader.next();
    ASSERT_TRUE(field.has_value()) << field.status();
    EXPECT_EQ(field->number, 1u);
    EXPECT_EQ(field->wire_type, WireType::VARINT);
    EXPECT_EQ(field->scalar, 150u);
    EXPECT_EQ(field->begin, 1u);
    EXPECT_EQ(field->end, 3u);
    EXPECT_TRUE(reader.done());
}

TEST(WireMessageReader, ReadsAFixed64Field) {
    const Bytes bytes = {0x11, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};  // field 2
    const auto field = first_field(bytes);
    ASSERT_TRUE(field.has_value()) << field.status();
    EXPECT_EQ(field->number, 2u);
    EXPECT_EQ(field->wire_type, WireType::FIXED64);
    EXPECT_EQ(field->scalar, 0x0807060504030201u);
    EXPECT_EQ(field->begin, 1u);
    EXPECT_EQ(field->end, 9u);
}

TEST(WireMessageReader, ReadsAFixed32Field) {
    const Bytes bytes = {0x1D, 0x00, 0x00, 0x80, 0x3F};  // field 3 = 1.0f
    const auto field = first_field(bytes);
    ASSERT_TRUE(field.has_value()) << field.status();
    EXPECT_EQ(field->number, 3u);
    EXPECT_EQ(field->wire_type, WireType::FIXED32);
    EXPECT_EQ(field->scalar, 0x3F800000u);
    EXPECT_EQ(field->begin, 1u);
    EXPECT_EQ(field->end, 5u);
}

TEST(WireMessageReader, ReadsALengthDelimitedFieldAsItsPayload) {
    const Bytes bytes = {0x22, 0x03, 'a', 'b', 'c'};  // field 4 = "abc"
    MessageReader reader(bytes, 0, bytes.size(), kRoot);
    const auto field = reader.next();
    ASSERT_TRUE(field.has_value()) << field.status();
    EXPECT_EQ(field->number, 4u);
    EXPECT_EQ(field->wire_type, WireType::LEN);
    EXPECT_EQ(field->begin, 2u);  // after the length
    EXPECT_EQ(field->end, 5u);
    const auto text = read_string(reader, *field, "text");
    ASSERT_TRUE(text.has_value()) << text.status();
    EXPECT_EQ(*text, "abc");
}

TEST(WireMessageReader, ReadsAnEmptyLengthDelimitedField) {
    const auto field = first_field({0x22, 0x00});
    ASSERT_TRUE(field.has_value()) << field.status();
    EXPECT_EQ(field->begin, 2u);
    EXPECT_EQ(field->end, 2u);
}

TEST(WireMessageReader, ReadsTheLargestFieldNumber) {
    // Tag (2^29 - 1) << 3 | VARINT in five bytes, then the value 0.
    const auto field = first_field({0xF8, 0xFF, 0xFF, 0xFF, 0x0F, 0x00});
    ASSERT_TRUE(field.has_value()) << field.status();
    EXPECT_EQ(field->number, 0x1FFFFFFFu);
}

// --- MessageReader::next: corrupt tags and values ---

TEST(WireMessageReader, RefusesFieldNumberZero) {
    EXPECT_EQ(error_of(first_field({0x00, 0x00})), "invalid field number 0 at byte 0 in Test");
}

TEST(WireMessageReader, RefusesFieldNumbersPastTwoToThe29) {
    // Tag 2^29 << 3: a field number that no .proto can declare.
    EXPECT_EQ(error_of(first_field({0x80, 0x80, 0x80, 0x80, 0x10, 0x00})),
              "invalid field number 536870912 at byte 0 in Test");
}

TEST(WireMessageReader, RefusesATruncatedTag) {
    EXPECT_EQ(error_of(first_field({0x80})), "truncated varint (tag) at byte 0 in Test");
}

TEST(WireMessageReader, RefusesAnOverlongTag) {
    EXPECT_EQ(
        error_of(first_field({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01})),
        "varint longer than 10 bytes (tag) at byte 0 in Test");
}

TEST(WireMessageReader, RefusesATruncatedVarintValue) {
    EXPECT_EQ(error_of(first_field({0x08})), "truncated varint (varint) at byte 1 in Test");
    EXPECT_EQ(error_of(first_field({0x08, 0x96})), "truncated varint (varint) at byte 1 in Test");
}

TEST(WireMessageReader, RefusesAnOverlongVarintValue) {
    EXPECT_EQ(error_of(first_field(
                  {0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00})),
              "varint longer than 10 bytes (varint) at byte 1 in Test");
}

TEST(WireMessageReader, RefusesTruncatedFixedWidthValues) {
    EXPECT_EQ(error_of(first_field({0x11, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07})),
              "truncated 64-bit value at byte 1 in Test");
    EXPECT_EQ(error_of(first_field({0x1D, 0x01, 0x02, 0x03})),
              "truncated 32-bit value at byte 1 in Test");
    EXPECT_EQ(error_of(first_field({0x1D})), "truncated 32-bit value at byte 1 in Test");
}

TEST(WireMessageReader, RefusesATruncatedLength) {
    EXPECT_EQ(error_of(first_field({0x22})), "truncated varint (length) at byte 1 in Test");
    EXPECT_EQ(error_of(first_field({0x22, 0x80})), "truncated varint (length) at byte 1 in Test");
}

TEST(WireMessageReader, RefusesALengthPastTheEnd) {
    EXPECT_EQ(error_of(first_field({0x22, 0x05, 'a', 'b', 'c'})),
              "length 5 of field 4 runs past the end (3 bytes left) at byte 1 in Test");
    // One byte short: the payload may end at the message's end, not one past it.
    EXPECT_EQ(error_of(first_field({0x22, 0x04, 'a', 'b', 'c'})),
              "length 4 of field 4 runs past the end (3 bytes left) at byte 1 in Test");
}

TEST(WireMessageReader, RefusesTheLargestLengthWithoutSizingAnything) {
    EXPECT_EQ(error_of(first_field(
                  {0x22, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 'a'})),
              "length 18446744073709551615 of field 4 runs past the end (1 bytes left) at byte 1 "
              "in Test");
}

TEST(WireMessageReader, MeasuresLengthsAgainstTheMessageNotTheBuffer) {
    // Five bytes follow the length, but the message ends after three of them.
    const Bytes bytes = {0x22, 0x05, 'a', 'b', 'c', 'd', 'e'};
    MessageReader reader(bytes, 0, 5, kRoot);
    EXPECT_EQ(error_of(reader.next()),
              "length 5 of field 4 runs past the end (3 bytes left) at byte 1 in Test");
}

TEST(WireMessageReader, RefusesGroupsAndTheUndefinedWireTypes) {
    EXPECT_EQ(error_of(first_field({0x0B})),
              "unsupported wire type 3 for field 1 at byte 0 in Test");
    // A well-formed group (field 1 = 1 inside) is refused all the same.
    EXPECT_EQ(error_of(first_field({0x0B, 0x08, 0x01, 0x0C})),
              "unsupported wire type 3 for field 1 at byte 0 in Test");
    EXPECT_EQ(error_of(first_field({0x0C})),
              "unsupported wire type 4 for field 1 at byte 0 in Test");
    EXPECT_EQ(error_of(first_field({0x16})),
              "unsupported wire type 6 for field 2 at byte 0 in Test");
    EXPECT_EQ(error_of(first_field({0x1F})),
              "unsupported wire type 7 for field 3 at byte 0 in Test");
}

TEST(WireMessageReader, GivesOffsetsFromTheStartOfTheBuffer) {
    const Bytes bytes = {0x08, 0x01, 0x10, 0x02, 0x0B};  // fields 1 and 2, then a group
    MessageReader reader(bytes, 0, bytes.size(), kRoot);
    ASSERT_TRUE(reader.next().has_value());
    ASSERT_TRUE(reader.next().has_value());
    EXPECT_EQ(error_of(reader.next()), "unsupported wire type 3 for field 1 at byte 4 in Test");
}

// --- Walking a message: unknown fields, nested messages ---

TEST(WireMessageReader, StepsOverFieldsTheCallerDoesNotRead) {
    const Bytes bytes = {
        0x08, 0x96, 0x01,                                      // 1: varint
        0x11, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // 2: 64-bit
        0x1D, 0x01, 0x02, 0x03, 0x04,                          // 3: 32-bit
        0x22, 0x02, 0x0B, 0xFF,  // 4: bytes that would be a group and a bad varint as fields
        0x28, 0x2A,              // 5: varint 42, the one field read
        0xD0, 0x0F, 0x01,        // 250: varint, two-byte tag
    };
    MessageReader reader(bytes, 0, bytes.size(), kRoot);
    std::vector<uint32_t> numbers;
    uint64_t wanted = 0;
    while (!reader.done()) {
        const auto field = reader.next();
        ASSERT_TRUE(field.has_value()) << field.status();
        numbers.push_back(field->number);
        if (field->number == 5) wanted = field->scalar;
    }
    EXPECT_EQ(numbers, (std::vector<uint32_t>{1, 2, 3, 4, 5, 250}));
    EXPECT_EQ(wanted, 42u);
}

TEST(WireMessageReader, ReadsANestedMessage) {
    const Bytes bytes = {
        0x0A, 0x05,       // 1: the inner message, 5 bytes
        0x08, 0x2A,       //   inner 1 = 42
        0x1A, 0x01, 'x',  //   inner 3 = "x"
        0x10, 0x07,       // 2 = 7
    };
    MessageReader outer(bytes, 0, bytes.size(), kRoot);
    const auto inner_field = outer.next();
    ASSERT_TRUE(inner_field.has_value()) << inner_field.status();
    ASSERT_TRUE(expect_wire_type(outer, *inner_field, WireType::LEN, "inner").is_ok());

    const MessagePath path{"inner", &outer.path()};
    MessageReader inner = outer.nested(*inner_field, path);
    EXPECT_EQ(inner.path().to_string(), "Test.inner");
    const auto number = inner.next();
    ASSERT_TRUE(number.has_value()) << number.status();
    const auto value = read_int64(inner, *number, "number");
    ASSERT_TRUE(value.has_value()) << value.status();
    EXPECT_EQ(*value, 42);
    const auto name_field = inner.next();
    ASSERT_TRUE(name_field.has_value()) << name_field.status();
    const auto name = read_string(inner, *name_field, "name");
    ASSERT_TRUE(name.has_value()) << name.status();
    EXPECT_EQ(*name, "x");
    EXPECT_TRUE(inner.done());

    const auto after = outer.next();
    ASSERT_TRUE(after.has_value()) << after.status();
    EXPECT_EQ(after->number, 2u);
    EXPECT_EQ(after->scalar, 7u);
    EXPECT_TRUE(outer.done());
}

// Reads the first field of `bytes` as a nested message "inner" and returns its first field.
Expected<Field> first_nested_field(const Bytes& bytes) {
    MessageReader outer(bytes, 0, bytes.size(), kRoot);
    CORUN_TRY(const Field field, outer.next());
    const MessagePath path{"inner", &outer.path()};
    MessageReader inner = outer.nested(field, path);
    return inner.next();
}

TEST(WireMessageReader, NamesTheNestedPathAndTheOffsetInTheWholeBuffer) {
    EXPECT_EQ(error_of(first_nested_field({0x0A, 0x02, 0x08, 0x80})),
              "truncated varint (varint) at byte 3 in Test.inner");
}

TEST(WireMessageReader, ANestedReaderStopsAtTheEndOfItsField) {
    // The inner message is {0x08, 0x96}; the 0x01 after it would complete the varint but
    // belongs to the outer message.
    EXPECT_EQ(error_of(first_nested_field({0x0A, 0x02, 0x08, 0x96, 0x01})),
              "truncated varint (varint) at byte 3 in Test.inner");
    // A length inside the inner message is measured against the inner message's end.
    EXPECT_EQ(error_of(first_nested_field({0x0A, 0x02, 0x22, 0x05, 'a', 'b', 'c', 'd', 'e'})),
              "length 5 of field 4 runs past the end (0 bytes left) at byte 3 in Test.inner");
}

// --- Typed reads ---

TEST(WireTypedReads, ReadInt64TakesTwosComplement) {
    const Bytes bytes = {0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    MessageReader reader(bytes, 0, bytes.size(), kRoot);
    const auto field = reader.next();
    ASSERT_TRUE(field.has_value()) << field.status();
    const auto value = read_int64(reader, *field, "count");
    ASSERT_TRUE(value.has_value()) << value.status();
    EXPECT_EQ(*value, -1);
}

TEST(WireTypedReads, RefuseTheWrongWireType) {
    {
        const Bytes bytes = {0x08, 0x01};
        MessageReader reader(bytes, 0, bytes.size(), kRoot);
        const auto field = reader.next();
        ASSERT_TRUE(field.has_value()) << field.status();
        EXPECT_EQ(error_of(read_string(reader, *field, "name")),
                  "field 1 (name) has wire type varint, expected length-delimited at byte 1 in "
                  "Test");
    }
    {
        // A LEN field's offset is its payload's, after the length.
        const Bytes bytes = {0x22, 0x00};
        MessageReader reader(bytes, 0, bytes.size(), kRoot);
        const auto field = reader.next();
        ASSERT_TRUE(field.has_value()) << field.status();
        EXPECT_EQ(error_of(read_int64(reader, *field, "count")),
                  "field 4 (count) has wire type length-delimited, expected varint at byte 2 in "
                  "Test");
    }
    {
        const Bytes bytes = {0x1D, 0x00, 0x00, 0x00, 0x00};
        MessageReader reader(bytes, 0, bytes.size(), kRoot);
        const auto field = reader.next();
        ASSERT_TRUE(field.has_value()) << field.status();
        EXPECT_TRUE(expect_wire_type(reader, *field, WireType::FIXED32, "f").is_ok());
        EXPECT_EQ(error_of(expect_wire_type(reader, *field, WireType::FIXED64, "d")),
                  "field 3 (d) has wire type 32-bit, expected 64-bit at byte 1 in Test");
    }
}

// Reads every field of `bytes` with read_repeated_varint; the values, or the first error.
Expected<std::vector<uint64_t>> repeated_varints(const Bytes& bytes) {
    MessageReader reader(bytes, 0, bytes.size(), kRoot);
    std::vector<uint64_t> values;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        CORUN_RETURN_IF_ERROR(read_repeated_varint(reader, field, "dims", [&](uint64_t value) {
            values.push_back(value);
            return Status::ok();
        }));
    }
    return values;
}

TEST(WireRepeatedVarint, ReadsUnpackedValues) {
    const auto values = repeated_varints({0x08, 0x01, 0x08, 0x96, 0x01, 0x08, 0x00});
    ASSERT_TRUE(values.has_value()) << values.status();
    EXPECT_EQ(*values, (std::vector<uint64_t>{1, 150, 0}));
}

TEST(WireRepeatedVarint, ReadsPackedValues) {
    const auto values = repeated_varints({0x0A, 0x04, 0x01, 0x96, 0x01, 0x00, 0x08, 0x05});
    ASSERT_TRUE(values.has_value()) << values.status();
    EXPECT_EQ(*values, (std::vector<uint64_t>{1, 150, 0, 5}));  // packed, then one unpacked
}

TEST(WireRepeatedVarint, ReadsAnEmptyPackedField) {
    const auto values = repeated_varints({0x0A, 0x00});
    ASSERT_TRUE(values.has_value()) << values.status();
    EXPECT_TRUE(values->empty());
}

TEST(WireRepeatedVarint, RefusesAVarintCutByTheEndOfThePackedField) {
    // 0x96 needs the byte after it, which lies outside the field.
    EXPECT_EQ(error_of(repeated_varints({0x0A, 0x02, 0x01, 0x96, 0x01})),
              "malformed packed varint in dims at byte 3 in Test");
}

TEST(WireRepeatedVarint, RefusesAnOverlongPackedVarint) {
    EXPECT_EQ(error_of(repeated_varints(
                  {0x0A, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00})),
              "malformed packed varint in dims at byte 2 in Test");
}

TEST(WireRepeatedVarint, RefusesFixedWidthFields) {
    EXPECT_EQ(error_of(repeated_varints({0x0D, 0x01, 0x00, 0x00, 0x00})),
              "field 1 (dims) has wire type 32-bit, expected length-delimited at byte 1 in Test");
}

TEST(WireRepeatedVarint, StopsAtTheSinksError) {
    const Bytes bytes = {0x0A, 0x03, 0x01, 0x02, 0x03};
    MessageReader reader(bytes, 0, bytes.size(), kRoot);
    const auto field = reader.next();
    ASSERT_TRUE(field.has_value()) << field.status();
    int calls = 0;
    const Status status = read_repeated_varint(reader, *field, "dims", [&](uint64_t value) {
        ++calls;
        return value == 2 ? Status(StatusCode::INVALID_ARGUMENT, "two") : Status::ok();
    });
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.message(), "two");
    EXPECT_EQ(calls, 2);
}

// Reads every field of `bytes` with read_repeated_fixed of `width`; the bits, or the first error.
Expected<std::vector<uint64_t>> repeated_fixed(const Bytes& bytes, size_t width) {
    MessageReader reader(bytes, 0, bytes.size(), kRoot);
    std::vector<uint64_t> values;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        CORUN_RETURN_IF_ERROR(
            read_repeated_fixed(reader, field, width, "float_data", [&](uint64_t bits) {
                values.push_back(bits);
                return Status::ok();
            }));
    }
    return values;
}

TEST(WireRepeatedFixed, ReadsUnpackedAndPacked32BitValues) {
    const auto values = repeated_fixed(
        {0x25, 0x01, 0x00, 0x00, 0x00,                                 // field 4, one value
         0x22, 0x08, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3F},  // field 4, packed: 2, 1.0f
        4);
    ASSERT_TRUE(values.has_value()) << values.status();
    EXPECT_EQ(*values, (std::vector<uint64_t>{1, 2, 0x3F800000}));
}

TEST(WireRepeatedFixed, ReadsUnpackedAndPacked64BitValues) {
    const auto values =
        repeated_fixed({0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // field 1
                        0x0A, 0x10,                                            // packed, 16 bytes
                        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,        //
                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x3F},       // 1.0
                       8);
    ASSERT_TRUE(values.has_value()) << values.status();
    EXPECT_EQ(*values, (std::vector<uint64_t>{1, 2, 0x3FF0000000000000}));
}

TEST(WireRepeatedFixed, RefusesAPackedSizeThatIsNotAMultipleOfTheWidth) {
    EXPECT_EQ(error_of(repeated_fixed({0x22, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05}, 4)),
              "packed float_data is 5 bytes, not a multiple of 4 at byte 2 in Test");
    EXPECT_EQ(error_of(repeated_fixed({0x22, 0x04, 0x01, 0x02, 0x03, 0x04}, 8)),
              "packed float_data is 4 bytes, not a multiple of 8 at byte 2 in Test");
}

TEST(WireRepeatedFixed, RefusesTheOtherWidthAndVarints) {
    EXPECT_EQ(error_of(repeated_fixed({0x21, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}, 4)),
              "field 4 (float_data) has wire type 64-bit, expected length-delimited at byte 1 in "
              "Test");
    EXPECT_EQ(error_of(repeated_fixed({0x20, 0x01}, 8)),
              "field 4 (float_data) has wire type varint, expected length-delimited at byte 1 in "
              "Test");
}

}  // namespace
}  // namespace corun::onnx::wire
