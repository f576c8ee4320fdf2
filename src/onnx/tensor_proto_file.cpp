// TensorProto -> dense bytes. onnx.proto lets the values arrive in raw_data (already dense,
// little-endian) or in a typed repeated field whose element is wider than the type (int32_data
// holds uint8, bool, float16 ... one varint each): both end up in the same layout here.
#include "onnx/tensor_proto_file.hpp"

#include <sys/stat.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <optional>

#include "corun/format.hpp"
#include "onnx/protobuf_wire_reader.hpp"
#include "onnx/tensor_proto_fields.hpp"

namespace corun::onnx {

namespace {

static_assert(std::endian::native == std::endian::little,
              "TensorProtoData::bytes is little-endian, as raw_data is; a big-endian host would "
              "need byte swaps here");

using wire::expect_wire_type;
using wire::Field;
using wire::MessagePath;
using wire::MessageReader;
using wire::read_int64;
using wire::read_repeated_fixed;
using wire::read_repeated_varint;
using wire::read_string;
using wire::WireType;

const char* field_name(uint32_t number) {
    switch (number) {
        case kFloatData:
            return "float_data";
        case kInt32Data:
            return "int32_data";
        case kStringData:
            return "string_data";
        case kInt64Data:
            return "int64_data";
        case kDoubleData:
            return "double_data";
        case kUint64Data:
            return "uint64_data";
        default:
            return "raw_data";
    }
}

void append_le(std::vector<uint8_t>& out, uint64_t bits, size_t width) {
    for (size_t i = 0; i < width; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
}

}  // namespace

Expected<TensorProtoData> read_tensor_proto(std::span<const uint8_t> bytes) {
    const MessagePath root{"TensorProto"};
    TensorProtoData tensor;

    // First the name and data_type: protobuf does not order fields, and the width each typed
    // value takes depends on the type, so the values are packed as they are read in the second
    // pass (memory stays within the size of the values, never a list of every varint).
    bool has_type = false;
    for (MessageReader reader(bytes, 0, bytes.size(), root); !reader.done();) {
        CORUN_TRY(const Field field, reader.next());
        if (field.number == kTensorDataType) {
            CORUN_TRY(const int64_t type, read_int64(reader, field, "data_type"));
            tensor.type = static_cast<OnnxElementType>(static_cast<int32_t>(type));
            has_type = true;
        } else if (field.number == kTensorName) {
            CORUN_TRY(tensor.name, read_string(reader, field, "name"));
        }
    }
    const std::string label = "tensor '" + tensor.name + "'";
    if (!has_type || tensor.type == OnnxElementType::UNDEFINED) {
        return Status(StatusCode::INVALID_MODEL,
                      label + " has no data_type (" + std::to_string(bytes.size()) +
                          " bytes): not a TensorProto, or a truncated one");
    }
    const uint32_t expected_field = typed_field_for(tensor.type);
    const size_t element_size = tensor_element_size(tensor.type);
    if (expected_field == 0) {
        return Status(StatusCode::NOT_SUPPORTED,
                      label + " has element type " +
                          std::to_string(static_cast<int32_t>(tensor.type)) +
                          " (complex or newer than this reader), which has no dense layout here");
    }
    const std::string external = label +
                                 " keeps its values in an external file; a standalone tensor "
                                 "file must hold them itself";

    std::optional<std::span<const uint8_t>> raw_data;
    std::vector<uint8_t> typed_bytes;  // the typed fields' values, packed
    int64_t typed_count = 0;           // how many of them (strings included)
    // A typed value must come in the field onnx.proto gives the type.
    auto check_field = [&](uint32_t number) -> Status {
        if (number == expected_field) return Status::ok();
        return Status(StatusCode::INVALID_MODEL,
                      label + " of type " + onnx_element_type_name(tensor.type) +
                          " holds values in " + field_name(number) + "; onnx.proto puts them in " +
                          field_name(expected_field));
    };
    auto pack = [&](uint32_t number) {
        return [&, number](uint64_t bits) -> Status {
            CORUN_RETURN_IF_ERROR(check_field(number));
            // int32_data holds the narrower types one varint each; their bits are the low ones.
            append_le(typed_bytes, bits, element_size);
            ++typed_count;
            return Status::ok();
        };
    };
    for (MessageReader reader(bytes, 0, bytes.size(), root); !reader.done();) {
        CORUN_TRY(const Field field, reader.next());
        switch (field.number) {
            case kTensorDims:
                CORUN_RETURN_IF_ERROR(
                    read_repeated_varint(reader, field, "dims", [&](uint64_t value) {
                        tensor.dims.push_back(static_cast<int64_t>(value));
                        return Status::ok();
                    }));
                break;
            case kFloatData:
                CORUN_RETURN_IF_ERROR(
                    read_repeated_fixed(reader, field, 4, "float_data", pack(kFloatData)));
                break;
            case kDoubleData:
                CORUN_RETURN_IF_ERROR(
                    read_repeated_fixed(reader, field, 8, "double_data", pack(kDoubleData)));
                break;
            case kInt32Data:
            case kInt64Data:
            case kUint64Data:
                CORUN_RETURN_IF_ERROR(read_repeated_varint(reader, field, field_name(field.number),
                                                           pack(field.number)));
                break;
            case kStringData: {
                CORUN_RETURN_IF_ERROR(
                    expect_wire_type(reader, field, WireType::LEN, "string_data"));
                CORUN_RETURN_IF_ERROR(check_field(kStringData));
                const size_t length = field.end - field.begin;
                if (length > UINT32_MAX) {
                    return Status(StatusCode::INVALID_MODEL, label + " has a string over 4 GiB");
                }
                append_le(typed_bytes, length, 4);
                typed_bytes.insert(typed_bytes.end(), bytes.begin() + field.begin,
                                   bytes.begin() + field.end);
                ++typed_count;
                break;
            }
            case kRawData:
                CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "raw_data"));
                raw_data = bytes.subspan(field.begin, field.end - field.begin);
                break;
            case kExternalData:
                return Status(StatusCode::NOT_SUPPORTED, external);
            case kDataLocation: {
                CORUN_TRY(const int64_t location, read_int64(reader, field, "data_location"));
                if (location == 1) return Status(StatusCode::NOT_SUPPORTED, external);  // EXTERNAL
                break;
            }
            default:
                break;  // name and data_type (read above), doc_string, segment, metadata
        }
    }

    int64_t count = 1;
    for (const int64_t dim : tensor.dims) {
        if (dim < 0) {
            return Status(StatusCode::INVALID_MODEL,
                          label + " has negative dimension " + std::to_string(dim));
        }
        if (__builtin_mul_overflow(count, dim, &count)) {
            return Status(StatusCode::INVALID_MODEL, label + " has too many elements");
        }
    }
    tensor.element_count = count;
    const std::string count_text = std::to_string(count) + " element(s) of " +
                                   onnx_element_type_name(tensor.type) + " (dims " +
                                   shape_text(tensor.dims) + ")";

    if (raw_data && tensor.type != OnnxElementType::STRING) {
        // count <= raw size / element size first: no overflow, and nothing sized from dims.
        if (raw_data->size() % element_size != 0 ||
            static_cast<uint64_t>(count) != raw_data->size() / element_size) {
            return Status(StatusCode::INVALID_MODEL,
                          label + " declares " + count_text + " (" +
                              (count <= static_cast<int64_t>(raw_data->size())
                                   ? std::to_string(count * static_cast<int64_t>(element_size))
                                   : std::string("more than the file's")) +
                              " bytes) but its raw_data has " + std::to_string(raw_data->size()) +
                              " bytes");
        }
        tensor.bytes.assign(raw_data->begin(), raw_data->end());
        return tensor;
    }
    if (typed_count != count) {
        return Status(
            StatusCode::INVALID_MODEL,
            label + " declares " + count_text + " but holds " + std::to_string(typed_count) +
                (tensor.type == OnnxElementType::STRING ? " string_data values" : " typed values"));
    }
    tensor.bytes = std::move(typed_bytes);
    return tensor;
}

Expected<TensorProtoData> read_tensor_proto_file(const std::string& path, uint64_t max_bytes) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
        return Status(StatusCode::NOT_FOUND, "tensor file '" + path + "' does not exist");
    }
    if (!S_ISREG(info.st_mode)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "tensor file '" + path + "' is not a regular file");
    }
    if (static_cast<uint64_t>(info.st_size) > max_bytes) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "tensor file '" + path + "' has " + std::to_string(info.st_size) +
                          " bytes, more than the limit of " + std::to_string(max_bytes));
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return Status(StatusCode::OPEN_FILE_FAILURE, "tensor file '" + path + "' cannot be opened");
    }
    std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
    file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (file.gcount() != static_cast<std::streamsize>(bytes.size())) {
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "tensor file '" + path + "' could not be read whole");
    }
    auto tensor = read_tensor_proto(bytes);
    if (!tensor) {
        return Status(tensor.status().code(),
                      "tensor file '" + path + "': " + tensor.status().message());
    }
    return tensor;
}

}  // namespace corun::onnx
