// What both ONNX readers need of onnx.proto's TensorProto: its field numbers, which typed
// field holds a type's values when raw_data is absent, the bytes per element in raw_data, and
// ONNX's name of each element type. One place, so the model reader (onnx_model_file) and the
// standalone tensor reader (tensor_proto_file) cannot drift apart.
#pragma once

#include <cstddef>
#include <cstdint>

#include "onnx/onnx_model_file.hpp"

namespace corun::onnx {

// TensorProto's field numbers (onnx.proto).
inline constexpr uint32_t kTensorDims = 1;
inline constexpr uint32_t kTensorDataType = 2;
inline constexpr uint32_t kFloatData = 4;
inline constexpr uint32_t kInt32Data = 5;
inline constexpr uint32_t kStringData = 6;
inline constexpr uint32_t kInt64Data = 7;
inline constexpr uint32_t kTensorName = 8;
inline constexpr uint32_t kRawData = 9;
inline constexpr uint32_t kDoubleData = 10;
inline constexpr uint32_t kUint64Data = 11;
inline constexpr uint32_t kExternalData = 13;
inline constexpr uint32_t kDataLocation = 14;

// The typed field onnx.proto puts a type's values in when raw_data is absent; 0 for none.
uint32_t typed_field_for(OnnxElementType type);

// Bytes per element of `type` in raw_data (dense, little-endian); 0 for STRING (variable) and
// for types corun does not decode (complex, undefined).
size_t tensor_element_size(OnnxElementType type);

// "float", "int64", "string", ...: ONNX's names, for messages.
const char* onnx_element_type_name(OnnxElementType type);

}  // namespace corun::onnx
