// corun's element types as ONNX Runtime's, for the cpu device and for benchmarks that drive
// bare ONNX Runtime sessions beside corun.
#pragma once

#include <onnxruntime_cxx_api.h>

#include "corun/format.hpp"

namespace corun::devices::cpu {

// UNDEFINED for AUTO, which is never a concrete tensor type.
inline ONNXTensorElementDataType onnx_type_of(FormatType type) {
    switch (type) {
        case FormatType::FLOAT32:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
        case FormatType::UINT8:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
        case FormatType::INT8:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
        case FormatType::UINT16:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16;
        case FormatType::INT32:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
        case FormatType::INT64:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
        case FormatType::FLOAT16:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
        case FormatType::BFLOAT16:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16;
        case FormatType::FLOAT64:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE;
        case FormatType::BOOL:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
        case FormatType::INT16:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16;
        case FormatType::UINT32:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32;
        case FormatType::UINT64:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64;
        case FormatType::STRING:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING;
        case FormatType::AUTO:
            break;
    }
    return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

}  // namespace corun::devices::cpu
