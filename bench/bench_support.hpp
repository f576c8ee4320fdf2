// Helpers the benchmarks share for their bare ONNX Runtime baselines.
#pragma once

#include <onnxruntime_cxx_api.h>

#include "corun/format.hpp"

namespace corun::bench {

// The ONNX Runtime element type of a corun format type (FLOAT32 for AUTO).
inline ONNXTensorElementDataType onnx_type(FormatType type) {
    switch (type) {
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
        default:
            return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    }
}

}  // namespace corun::bench
