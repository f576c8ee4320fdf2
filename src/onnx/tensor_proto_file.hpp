// A standalone ONNX TensorProto (the input_K.pb / output_K.pb files of ONNX's backend test data,
// or what onnx.numpy_helper.from_array writes) read into element type, dimensions and dense
// bytes. Used by the conformance harness (tests/conformance) and tools; the model reader in
// onnx_model_file.hpp decodes only the small tensors it needs and never copies a weight.
//
// Safety: the same bounds-checked wire reader as the model reader. The element count from
// `dims` is checked against the data actually present before anything is sized from it, so
// memory stays proportional to the file (a tensor claiming 10^12 elements with no data is an
// error, not an allocation).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "onnx/onnx_model_file.hpp"
#include "onnx/tensor_proto_fields.hpp"

namespace corun::onnx {

struct TensorProtoData {
    std::string name;  // as the file names it ("" when unnamed)
    OnnxElementType type = OnnxElementType::UNDEFINED;
    std::vector<int64_t> dims;  // empty for a scalar
    int64_t element_count = 1;  // product of dims (1 for a scalar, 0 for a zero-size tensor)
    // The values, densely packed, little-endian, whatever field of the file they came in
    // (raw_data or the typed *_data fields). STRING tensors use corun's STRING layout
    // (include/corun/format.hpp, KServe v2 BYTES): per element a 4-byte little-endian length,
    // then that many bytes.
    std::vector<uint8_t> bytes;
};

// tensor_element_size() (bytes per element in TensorProtoData::bytes) and
// onnx_element_type_name() come from tensor_proto_fields.hpp.

// Parses `bytes` as one TensorProto. Malformed input, external data, a data field that does
// not match the element count, or an element type without a dense layout (complex) give
// INVALID_MODEL / NOT_SUPPORTED naming the cause.
Expected<TensorProtoData> read_tensor_proto(std::span<const uint8_t> bytes);

// Reads the file at `path` (a regular file of at most `max_bytes`) and parses it.
Expected<TensorProtoData> read_tensor_proto_file(const std::string& path,
                                                 uint64_t max_bytes = uint64_t{1} << 30);

}  // namespace corun::onnx
