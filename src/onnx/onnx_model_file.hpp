// Reads what corun needs from an ONNX file's protobuf bytes, without libprotobuf: opset,
// producer, metadata, initializers (for parameter counts and scalar quantization constants)
// and nodes (to find QuantizeLinear/DequantizeLinear at the graph's edges).
// Every read is bounds-checked: a truncated or corrupt file gives INVALID_MODEL, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"

namespace corun::onnx {

// ONNX TensorProto.DataType values.
enum class OnnxElementType : int32_t {
    UNDEFINED = 0,
    FLOAT = 1,
    UINT8 = 2,
    INT8 = 3,
    UINT16 = 4,
    INT16 = 5,
    INT32 = 6,
    INT64 = 7,
    STRING = 8,
    BOOL = 9,
    FLOAT16 = 10,
    DOUBLE = 11,
    UINT32 = 12,
    UINT64 = 13,
    BFLOAT16 = 16,
};

// Tensors with at most this many elements get their values decoded: enough for the scalar
// scales and zero points of quantization, small enough that a big weight is never copied.
inline constexpr int64_t kMaxDecodedTensorElements = 16;

struct OnnxTensor {
    std::string name;
    OnnxElementType type = OnnxElementType::UNDEFINED;
    std::vector<int64_t> dims;  // empty for a scalar
    bool is_external = false;   // data_location == EXTERNAL: values live in another file
    // The values as doubles when the tensor holds them inline (raw_data or the typed *_data
    // fields) and has at most kMaxDecodedTensorElements elements; empty otherwise.
    std::vector<double> values;

    // Element count from dims (1 for a scalar); -1 if a dimension is negative.
    int64_t element_count() const;
};

struct OnnxNode {
    std::string name;
    std::string op_type;
    std::string domain;  // "" or "ai.onnx" for the default domain
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    // A Constant node's value: its "value" tensor, or "value_float"/"value_int" as a scalar.
    std::optional<OnnxTensor> value_attribute;
};

struct OnnxValueInfo {
    std::string name;
    OnnxElementType type = OnnxElementType::UNDEFINED;
    std::vector<int64_t> dims;           // -1 where a dimension is symbolic or unknown
    std::vector<std::string> dim_names;  // the symbolic name ("batch"), or "" for a fixed dim
};

struct OnnxModelFile {
    int64_t ir_version = 0;
    std::string producer_name;
    std::string producer_version;
    std::map<std::string, int64_t> opsets;  // domain ("" = default, also for "ai.onnx") -> version
    std::map<std::string, std::string> metadata;  // metadata_props
    std::vector<OnnxValueInfo> inputs;            // graph inputs that are not initializers
    std::vector<OnnxValueInfo> outputs;
    std::vector<OnnxNode> nodes;           // top-level graph nodes, in file order
    std::vector<OnnxTensor> initializers;  // values filled for tensors of <= 16 elements
    int64_t parameter_count = 0;           // sum of element counts over all initializers
    // The files named by external-data tensors anywhere in the model (subgraphs, functions and
    // attributes included), as written ("weights.bin"), each once, in file order.
    std::vector<std::string> external_data_locations;

    // The scalar value of a graph constant (an initializer or a Constant node's output).
    std::optional<double> scalar_constant(const std::string& name) const;
};

// Parses `bytes` as an ONNX ModelProto. Malformed input gives INVALID_MODEL naming the byte
// offset and the field path ("truncated varint (tag) at byte 1234 in ModelProto.graph.node").
Expected<OnnxModelFile> read_onnx_model(std::span<const uint8_t> bytes);

}  // namespace corun::onnx
