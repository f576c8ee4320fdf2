// A hand-written decoder for the parts of onnx.proto that corun reads, over the protobuf wire
// reader in protobuf_wire_reader.hpp. Why not libprotobuf: it would be corun's largest
// dependency, for a dozen fields.
//
// Safety: every read goes through wire::MessageReader, which checks each varint, fixed-width
// value and length against the bounds of the message it reads before touching a byte, so
// memory stays proportional to the file. Recursion follows onnx.proto's schema (ModelProto ->
// GraphProto -> NodeProto -> AttributeProto -> TensorProto, ValueInfoProto -> ... -> Dimension)
// and never the data: subgraphs in attributes are skipped, so depth is fixed at compile time,
// except in the walk for external data, which bounds its depth (kMaxSubgraphDepth).
#include "onnx/onnx_model_file.hpp"

#include "common/half_precision.hpp"
#include "onnx/tensor_proto_fields.hpp"

#include <bit>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "onnx/protobuf_wire_reader.hpp"

namespace corun::onnx {

namespace {

// The generic wire reading lives in protobuf_wire_reader.hpp; this file knows only the schema.
using wire::expect_wire_type;
using wire::Field;
using wire::load_le32;
using wire::load_le64;
using wire::MessagePath;
using wire::MessageReader;
using wire::read_int64;
using wire::read_repeated_fixed;
using wire::read_repeated_varint;
using wire::read_string;
using wire::WireType;

// One little-endian element of raw_data, as a double.
double decode_raw_element(OnnxElementType type, std::span<const uint8_t> bytes, size_t pos) {
    switch (type) {
        case OnnxElementType::UINT8:
        case OnnxElementType::BOOL:
            return bytes[pos];
        case OnnxElementType::INT8:
            return static_cast<int8_t>(bytes[pos]);
        case OnnxElementType::UINT16:
            return static_cast<uint16_t>(bytes[pos] | (bytes[pos + 1] << 8));
        case OnnxElementType::INT16:
            return static_cast<int16_t>(static_cast<uint16_t>(bytes[pos] | (bytes[pos + 1] << 8)));
        case OnnxElementType::FLOAT16:
            return common::half_to_float(static_cast<uint16_t>(bytes[pos] | (bytes[pos + 1] << 8)));
        case OnnxElementType::BFLOAT16:
            return common::bfloat16_to_float(
                static_cast<uint16_t>(bytes[pos] | (bytes[pos + 1] << 8)));
        case OnnxElementType::FLOAT:
            return std::bit_cast<float>(load_le32(bytes, pos));
        case OnnxElementType::INT32:
            return static_cast<int32_t>(load_le32(bytes, pos));
        case OnnxElementType::UINT32:
            return load_le32(bytes, pos);
        case OnnxElementType::INT64:
            return static_cast<double>(static_cast<int64_t>(load_le64(bytes, pos)));
        case OnnxElementType::UINT64:
            return static_cast<double>(load_le64(bytes, pos));
        case OnnxElementType::DOUBLE:
            return std::bit_cast<double>(load_le64(bytes, pos));
        default:
            return 0.0;
    }
}

// One value of a typed field (the varint or fixed-width bits), as a double.
double decode_typed_element(OnnxElementType type, uint64_t bits) {
    switch (type) {
        case OnnxElementType::FLOAT:
            return std::bit_cast<float>(static_cast<uint32_t>(bits));
        case OnnxElementType::DOUBLE:
            return std::bit_cast<double>(bits);
        case OnnxElementType::FLOAT16:
            return common::half_to_float(static_cast<uint16_t>(bits));
        case OnnxElementType::BFLOAT16:
            return common::bfloat16_to_float(static_cast<uint16_t>(bits));
        case OnnxElementType::INT64:
            return static_cast<double>(static_cast<int64_t>(bits));
        case OnnxElementType::UINT32:
        case OnnxElementType::UINT64:
            return static_cast<double>(bits);
        default:
            return static_cast<int32_t>(static_cast<uint32_t>(bits));  // int32_data
    }
}

// Typed values seen while reading a TensorProto, kept until data_type is known (protobuf
// does not promise field order). Stops collecting past the decode limit.
struct TypedValues {
    std::vector<std::pair<uint32_t, uint64_t>> values;  // (field number, bits)
    int64_t seen = 0;

    Status add(uint32_t field_number, uint64_t bits) {
        ++seen;
        if (seen <= kMaxDecodedTensorElements) values.emplace_back(field_number, bits);
        return Status::ok();
    }
};

Expected<int64_t> checked_element_count(const MessageReader& reader, const OnnxTensor& tensor,
                                        size_t offset) {
    int64_t count = 1;
    for (const int64_t dim : tensor.dims) {
        if (dim < 0) {
            return reader.invalid(
                "tensor '" + tensor.name + "' has negative dimension " + std::to_string(dim),
                offset);
        }
        if (__builtin_mul_overflow(count, dim, &count)) {
            return reader.invalid("tensor '" + tensor.name + "' has too many elements", offset);
        }
    }
    return count;
}

Expected<OnnxTensor> parse_tensor(MessageReader reader, size_t offset) {
    OnnxTensor tensor;
    TypedValues typed;
    std::optional<std::span<const uint8_t>> raw_data;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        switch (field.number) {
            case 1:
                CORUN_RETURN_IF_ERROR(
                    read_repeated_varint(reader, field, "dims", [&](uint64_t value) {
                        tensor.dims.push_back(static_cast<int64_t>(value));
                        return Status::ok();
                    }));
                break;
            case 2: {
                CORUN_TRY(const int64_t type, read_int64(reader, field, "data_type"));
                tensor.type = static_cast<OnnxElementType>(static_cast<int32_t>(type));
                break;
            }
            case kFloatData:
                CORUN_RETURN_IF_ERROR(read_repeated_fixed(
                    reader, field, 4, "float_data",
                    [&](uint64_t bits) { return typed.add(kFloatData, bits); }));
                break;
            case kDoubleData:
                CORUN_RETURN_IF_ERROR(read_repeated_fixed(
                    reader, field, 8, "double_data",
                    [&](uint64_t bits) { return typed.add(kDoubleData, bits); }));
                break;
            case kInt32Data:
            case kInt64Data:
            case kUint64Data: {
                const uint32_t number = field.number;
                CORUN_RETURN_IF_ERROR(
                    read_repeated_varint(reader, field, "integer data",
                                         [&](uint64_t bits) { return typed.add(number, bits); }));
                break;
            }
            case 8: {
                CORUN_TRY(tensor.name, read_string(reader, field, "name"));
                break;
            }
            case 9:
                CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "raw_data"));
                raw_data = reader.buffer().subspan(field.begin, field.end - field.begin);
                break;
            case 13:
                CORUN_RETURN_IF_ERROR(
                    expect_wire_type(reader, field, WireType::LEN, "external_data"));
                tensor.is_external = true;
                break;
            case 14: {
                CORUN_TRY(const int64_t location, read_int64(reader, field, "data_location"));
                if (location == 1) tensor.is_external = true;  // TensorProto.EXTERNAL
                break;
            }
            default:
                break;  // unknown or unneeded field: next() already skipped it
        }
    }

    CORUN_TRY(const int64_t count, checked_element_count(reader, tensor, offset));
    if (tensor.is_external || count > kMaxDecodedTensorElements) return tensor;

    // Values that do not match the element count are left undecoded rather than guessed at.
    if (raw_data) {
        const size_t size = tensor_element_size(tensor.type);
        if (size != 0 && raw_data->size() == size * static_cast<size_t>(count)) {
            for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
                tensor.values.push_back(decode_raw_element(tensor.type, *raw_data, i * size));
            }
        }
        return tensor;
    }
    const uint32_t expected_field = typed_field_for(tensor.type);
    if (expected_field == 0 || typed.seen != count) return tensor;
    for (const auto& [number, bits] : typed.values) {
        if (number != expected_field) {
            tensor.values.clear();
            return tensor;
        }
        tensor.values.push_back(decode_typed_element(tensor.type, bits));
    }
    return tensor;
}

// The AttributeProto fields a Constant node's value can come in.
struct ConstantAttribute {
    std::string name;
    std::optional<OnnxTensor> tensor;  // t
    std::optional<float> float_value;  // f
    std::optional<int64_t> int_value;  // i
};

Expected<ConstantAttribute> parse_attribute(MessageReader reader) {
    ConstantAttribute attribute;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        switch (field.number) {
            case 1: {
                CORUN_TRY(attribute.name, read_string(reader, field, "name"));
                break;
            }
            case 2:
                CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::FIXED32, "f"));
                attribute.float_value = std::bit_cast<float>(static_cast<uint32_t>(field.scalar));
                break;
            case 3: {
                CORUN_TRY(attribute.int_value, read_int64(reader, field, "i"));
                break;
            }
            case 5: {
                CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "t"));
                const MessagePath path{"t", &reader.path()};
                CORUN_TRY(attribute.tensor, parse_tensor(reader.nested(field, path), field.begin));
                break;
            }
            default:
                break;  // subgraphs (g, graphs) and lists are not read: see the file comment
        }
    }
    return attribute;
}

OnnxTensor scalar_tensor(OnnxElementType type, double value) {
    OnnxTensor tensor;
    tensor.type = type;
    tensor.values.push_back(value);
    return tensor;
}

Expected<OnnxNode> parse_node(MessageReader reader) {
    OnnxNode node;
    std::vector<ConstantAttribute> value_attributes;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        switch (field.number) {
            case 1: {
                CORUN_TRY(std::string input, read_string(reader, field, "input"));
                node.inputs.push_back(std::move(input));
                break;
            }
            case 2: {
                CORUN_TRY(std::string output, read_string(reader, field, "output"));
                node.outputs.push_back(std::move(output));
                break;
            }
            case 3: {
                CORUN_TRY(node.name, read_string(reader, field, "name"));
                break;
            }
            case 4: {
                CORUN_TRY(node.op_type, read_string(reader, field, "op_type"));
                break;
            }
            case 5: {
                CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "attribute"));
                const MessagePath path{"attribute", &reader.path()};
                CORUN_TRY(ConstantAttribute attribute, parse_attribute(reader.nested(field, path)));
                // Only the attributes that can hold a Constant's value are kept.
                if (attribute.name == "value" || attribute.name == "value_float" ||
                    attribute.name == "value_int") {
                    value_attributes.push_back(std::move(attribute));
                }
                break;
            }
            case 7: {
                CORUN_TRY(node.domain, read_string(reader, field, "domain"));
                break;
            }
            default:
                break;
        }
    }
    if (node.op_type == "Constant") {
        for (auto& attribute : value_attributes) {
            if (attribute.name == "value" && attribute.tensor) {
                node.value_attribute = std::move(attribute.tensor);
            } else if (attribute.name == "value_float" && attribute.float_value) {
                node.value_attribute =
                    scalar_tensor(OnnxElementType::FLOAT, *attribute.float_value);
            } else if (attribute.name == "value_int" && attribute.int_value) {
                node.value_attribute = scalar_tensor(OnnxElementType::INT64,
                                                     static_cast<double>(*attribute.int_value));
            }
        }
        if (node.value_attribute && node.value_attribute->name.empty() && !node.outputs.empty()) {
            node.value_attribute->name = node.outputs.front();
        }
    }
    return node;
}

Status parse_dimension(MessageReader reader, OnnxValueInfo& info) {
    int64_t value = -1;
    std::string param;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        if (field.number == 1) {
            CORUN_TRY(value, read_int64(reader, field, "dim_value"));
        } else if (field.number == 2) {
            CORUN_TRY(param, read_string(reader, field, "dim_param"));
            value = -1;
        }
    }
    info.dims.push_back(value < 0 ? -1 : value);
    info.dim_names.push_back(std::move(param));
    return Status::ok();
}

Status parse_shape(MessageReader reader, OnnxValueInfo& info) {
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        if (field.number != 1) continue;
        CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "dim"));
        const MessagePath path{"dim", &reader.path()};
        CORUN_RETURN_IF_ERROR(parse_dimension(reader.nested(field, path), info));
    }
    return Status::ok();
}

Status parse_tensor_type(MessageReader reader, OnnxValueInfo& info) {
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        if (field.number == 1) {
            CORUN_TRY(const int64_t type, read_int64(reader, field, "elem_type"));
            info.type = static_cast<OnnxElementType>(static_cast<int32_t>(type));
        } else if (field.number == 2) {
            CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "shape"));
            const MessagePath path{"shape", &reader.path()};
            info.dims.clear();
            info.dim_names.clear();
            CORUN_RETURN_IF_ERROR(parse_shape(reader.nested(field, path), info));
        }
    }
    return Status::ok();
}

Status parse_type(MessageReader reader, OnnxValueInfo& info) {
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        if (field.number != 1) continue;  // sequences, maps, optionals: left UNDEFINED
        CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "tensor_type"));
        const MessagePath path{"tensor_type", &reader.path()};
        CORUN_RETURN_IF_ERROR(parse_tensor_type(reader.nested(field, path), info));
    }
    return Status::ok();
}

Expected<OnnxValueInfo> parse_value_info(MessageReader reader) {
    OnnxValueInfo info;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        if (field.number == 1) {
            CORUN_TRY(info.name, read_string(reader, field, "name"));
        } else if (field.number == 2) {
            CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "type"));
            const MessagePath path{"type", &reader.path()};
            CORUN_RETURN_IF_ERROR(parse_type(reader.nested(field, path), info));
        }
    }
    return info;
}

Status parse_graph(MessageReader reader, OnnxModelFile& model) {
    std::vector<OnnxValueInfo> declared_inputs;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        switch (field.number) {
            case 1: {
                CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "node"));
                const MessagePath path{"node", &reader.path()};
                CORUN_TRY(OnnxNode node, parse_node(reader.nested(field, path)));
                model.nodes.push_back(std::move(node));
                break;
            }
            case 5: {
                CORUN_RETURN_IF_ERROR(
                    expect_wire_type(reader, field, WireType::LEN, "initializer"));
                const MessagePath path{"initializer", &reader.path()};
                CORUN_TRY(OnnxTensor tensor, parse_tensor(reader.nested(field, path), field.begin));
                model.initializers.push_back(std::move(tensor));
                break;
            }
            case 11:
            case 12: {
                const bool is_input = field.number == 11;
                const char* name = is_input ? "input" : "output";
                CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, name));
                const MessagePath path{name, &reader.path()};
                CORUN_TRY(OnnxValueInfo info, parse_value_info(reader.nested(field, path)));
                (is_input ? declared_inputs : model.outputs).push_back(std::move(info));
                break;
            }
            default:
                break;
        }
    }

    // Models exported before IR version 4 list their weights as graph inputs too; those are
    // not inputs a caller feeds.
    std::set<std::string_view> initializer_names;
    for (const auto& tensor : model.initializers) {
        initializer_names.insert(tensor.name);
        if (__builtin_add_overflow(model.parameter_count, tensor.element_count(),
                                   &model.parameter_count)) {
            return Status(StatusCode::INVALID_MODEL,
                          "parameter count overflows at initializer '" + tensor.name + "'");
        }
    }
    for (auto& input : declared_inputs) {
        if (!initializer_names.contains(input.name)) model.inputs.push_back(std::move(input));
    }
    return Status::ok();
}

Status parse_operator_set(MessageReader reader, OnnxModelFile& model) {
    std::string domain;
    int64_t version = 0;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        if (field.number == 1) {
            CORUN_TRY(domain, read_string(reader, field, "domain"));
        } else if (field.number == 2) {
            CORUN_TRY(version, read_int64(reader, field, "version"));
        }
    }
    if (domain == "ai.onnx") domain.clear();
    model.opsets[domain] = version;
    return Status::ok();
}

Status parse_metadata_entry(MessageReader reader, OnnxModelFile& model) {
    std::string key;
    std::string value;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        if (field.number == 1) {
            CORUN_TRY(key, read_string(reader, field, "key"));
        } else if (field.number == 2) {
            CORUN_TRY(value, read_string(reader, field, "value"));
        }
    }
    model.metadata[std::move(key)] = std::move(value);
    return Status::ok();
}

// Where external data lives: every TensorProto anywhere in the model (graph initializers,
// sparse initializers, Constant and other node attributes, subgraphs of Loop/If/Scan, local
// functions, training graphs) may name a file with external_data/data_location, and ONNX
// Runtime would open each of them. This walk follows onnx.proto's schema to every tensor;
// subgraphs nest, so depth is bounded explicitly.
constexpr int kMaxSubgraphDepth = 64;

// The messages on the way to a TensorProto, and the field that leads from one to the next
// (onnx.proto's numbers). TENSOR is the end of the way.
enum class TensorHolder {
    MODEL,
    TRAINING_INFO,
    FUNCTION,
    GRAPH,
    NODE,
    ATTRIBUTE,
    SPARSE_TENSOR,
    TENSOR
};

struct TensorPathStep {
    TensorHolder from;
    uint32_t field_number;
    TensorHolder to;
    const char* field_name;
};

constexpr TensorPathStep kTensorPathSteps[] = {
    {TensorHolder::MODEL, 7, TensorHolder::GRAPH, "graph"},
    {TensorHolder::MODEL, 20, TensorHolder::TRAINING_INFO, "training_info"},
    {TensorHolder::MODEL, 25, TensorHolder::FUNCTION, "functions"},
    {TensorHolder::TRAINING_INFO, 1, TensorHolder::GRAPH, "initialization"},
    {TensorHolder::TRAINING_INFO, 2, TensorHolder::GRAPH, "algorithm"},
    {TensorHolder::FUNCTION, 7, TensorHolder::NODE, "node"},
    {TensorHolder::GRAPH, 1, TensorHolder::NODE, "node"},
    {TensorHolder::GRAPH, 5, TensorHolder::TENSOR, "initializer"},
    {TensorHolder::GRAPH, 15, TensorHolder::SPARSE_TENSOR, "sparse_initializer"},
    {TensorHolder::NODE, 5, TensorHolder::ATTRIBUTE, "attribute"},
    {TensorHolder::ATTRIBUTE, 5, TensorHolder::TENSOR, "t"},
    {TensorHolder::ATTRIBUTE, 6, TensorHolder::GRAPH, "g"},
    {TensorHolder::ATTRIBUTE, 10, TensorHolder::TENSOR, "tensors"},
    {TensorHolder::ATTRIBUTE, 11, TensorHolder::GRAPH, "graphs"},
    {TensorHolder::ATTRIBUTE, 22, TensorHolder::SPARSE_TENSOR, "sparse_tensor"},
    {TensorHolder::ATTRIBUTE, 23, TensorHolder::SPARSE_TENSOR, "sparse_tensors"},
    {TensorHolder::SPARSE_TENSOR, 1, TensorHolder::TENSOR, "values"},
    {TensorHolder::SPARSE_TENSOR, 2, TensorHolder::TENSOR, "indices"},
};

const TensorPathStep* step_from(TensorHolder holder, uint32_t field_number) {
    for (const auto& step : kTensorPathSteps) {
        if (step.from == holder && step.field_number == field_number) return &step;
    }
    return nullptr;
}

struct ExternalDataWalk {
    std::vector<std::string>& locations;
    std::set<std::string> seen;
};

Status walk_external_tensor(MessageReader reader, ExternalDataWalk& walk) {
    bool external = false;
    std::string location;
    std::string name;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        if (field.number == 8) {
            CORUN_TRY(name, read_string(reader, field, "name"));
        } else if (field.number == 13) {
            CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "external_data"));
            external = true;
            const MessagePath path{"external_data", &reader.path()};
            MessageReader entry = reader.nested(field, path);
            std::string key;
            std::string value;
            while (!entry.done()) {
                CORUN_TRY(const Field entry_field, entry.next());
                if (entry_field.number == 1) {
                    CORUN_TRY(key, read_string(entry, entry_field, "key"));
                } else if (entry_field.number == 2) {
                    CORUN_TRY(value, read_string(entry, entry_field, "value"));
                }
            }
            if (key == "location") location = std::move(value);
        } else if (field.number == 14) {
            CORUN_TRY(const int64_t data_location, read_int64(reader, field, "data_location"));
            if (data_location == 1) external = true;  // TensorProto.EXTERNAL
        }
    }
    if (!external) return Status::ok();
    if (location.empty()) {
        return Status(StatusCode::INVALID_MODEL,
                      "tensor '" + name + "' (in " + reader.path().to_string() +
                          ") is marked as external data but names no location");
    }
    if (walk.seen.insert(location).second) walk.locations.push_back(std::move(location));
    return Status::ok();
}

Status walk_external(MessageReader reader, TensorHolder holder, int depth, ExternalDataWalk& walk) {
    if (depth > kMaxSubgraphDepth) {
        return reader.invalid("subgraphs nested deeper than " + std::to_string(kMaxSubgraphDepth),
                              0);
    }
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        const TensorPathStep* step = step_from(holder, field.number);
        if (step == nullptr) continue;
        CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, step->field_name));
        const MessagePath path{step->field_name, &reader.path()};
        if (step->to == TensorHolder::TENSOR) {
            CORUN_RETURN_IF_ERROR(walk_external_tensor(reader.nested(field, path), walk));
        } else {
            const int next_depth = step->to == TensorHolder::GRAPH ? depth + 1 : depth;
            CORUN_RETURN_IF_ERROR(
                walk_external(reader.nested(field, path), step->to, next_depth, walk));
        }
    }
    return Status::ok();
}

}  // namespace

int64_t OnnxTensor::element_count() const {
    int64_t count = 1;
    for (const int64_t dim : dims) {
        if (dim < 0) return -1;
        if (__builtin_mul_overflow(count, dim, &count)) return std::numeric_limits<int64_t>::max();
    }
    return count;
}

std::optional<double> OnnxModelFile::scalar_constant(const std::string& name) const {
    for (const auto& tensor : initializers) {
        if (tensor.name == name && tensor.values.size() == 1) return tensor.values.front();
    }
    for (const auto& node : nodes) {
        if (node.op_type != "Constant" || !node.value_attribute) continue;
        if (node.value_attribute->values.size() != 1) continue;
        for (const auto& output : node.outputs) {
            if (output == name) return node.value_attribute->values.front();
        }
    }
    return std::nullopt;
}

Expected<OnnxModelFile> read_onnx_model(std::span<const uint8_t> bytes) {
    const MessagePath root{"ModelProto"};
    MessageReader reader(bytes, 0, bytes.size(), root);
    OnnxModelFile model;
    bool has_graph = false;
    while (!reader.done()) {
        CORUN_TRY(const Field field, reader.next());
        switch (field.number) {
            case 1: {
                CORUN_TRY(model.ir_version, read_int64(reader, field, "ir_version"));
                break;
            }
            case 2: {
                CORUN_TRY(model.producer_name, read_string(reader, field, "producer_name"));
                break;
            }
            case 3: {
                CORUN_TRY(model.producer_version, read_string(reader, field, "producer_version"));
                break;
            }
            case 7: {
                CORUN_RETURN_IF_ERROR(expect_wire_type(reader, field, WireType::LEN, "graph"));
                if (has_graph) return reader.invalid("second graph", field.begin);
                const MessagePath path{"graph", &root};
                CORUN_RETURN_IF_ERROR(parse_graph(reader.nested(field, path), model));
                has_graph = true;
                break;
            }
            case 8: {
                CORUN_RETURN_IF_ERROR(
                    expect_wire_type(reader, field, WireType::LEN, "opset_import"));
                const MessagePath path{"opset_import", &root};
                CORUN_RETURN_IF_ERROR(parse_operator_set(reader.nested(field, path), model));
                break;
            }
            case 14: {
                CORUN_RETURN_IF_ERROR(
                    expect_wire_type(reader, field, WireType::LEN, "metadata_props"));
                const MessagePath path{"metadata_props", &root};
                CORUN_RETURN_IF_ERROR(parse_metadata_entry(reader.nested(field, path), model));
                break;
            }
            default:
                break;
        }
    }
    if (!has_graph) {
        return Status(StatusCode::INVALID_MODEL,
                      "no graph in ModelProto (" + std::to_string(bytes.size()) +
                          " bytes): not an ONNX model, or a truncated one");
    }
    ExternalDataWalk walk{model.external_data_locations, {}};
    CORUN_RETURN_IF_ERROR(
        walk_external(MessageReader(bytes, 0, bytes.size(), root), TensorHolder::MODEL, 0, walk));
    return model;
}

}  // namespace corun::onnx
