#include "onnx/tensor_proto_fields.hpp"

namespace corun::onnx {

uint32_t typed_field_for(OnnxElementType type) {
    switch (type) {
        case OnnxElementType::FLOAT:
            return kFloatData;
        case OnnxElementType::UINT8:
        case OnnxElementType::INT8:
        case OnnxElementType::UINT16:
        case OnnxElementType::INT16:
        case OnnxElementType::INT32:
        case OnnxElementType::BOOL:
        case OnnxElementType::FLOAT16:
        case OnnxElementType::BFLOAT16:
            return kInt32Data;
        case OnnxElementType::INT64:
            return kInt64Data;
        case OnnxElementType::DOUBLE:
            return kDoubleData;
        case OnnxElementType::UINT32:
        case OnnxElementType::UINT64:
            return kUint64Data;
        case OnnxElementType::STRING:
            return kStringData;
        default:
            return 0;
    }
}

size_t tensor_element_size(OnnxElementType type) {
    switch (type) {
        case OnnxElementType::UINT8:
        case OnnxElementType::INT8:
        case OnnxElementType::BOOL:
            return 1;
        case OnnxElementType::UINT16:
        case OnnxElementType::INT16:
        case OnnxElementType::FLOAT16:
        case OnnxElementType::BFLOAT16:
            return 2;
        case OnnxElementType::FLOAT:
        case OnnxElementType::INT32:
        case OnnxElementType::UINT32:
            return 4;
        case OnnxElementType::INT64:
        case OnnxElementType::UINT64:
        case OnnxElementType::DOUBLE:
            return 8;
        default:
            return 0;
    }
}

const char* onnx_element_type_name(OnnxElementType type) {
    switch (type) {
        case OnnxElementType::FLOAT:
            return "float";
        case OnnxElementType::UINT8:
            return "uint8";
        case OnnxElementType::INT8:
            return "int8";
        case OnnxElementType::UINT16:
            return "uint16";
        case OnnxElementType::INT16:
            return "int16";
        case OnnxElementType::INT32:
            return "int32";
        case OnnxElementType::INT64:
            return "int64";
        case OnnxElementType::STRING:
            return "string";
        case OnnxElementType::BOOL:
            return "bool";
        case OnnxElementType::FLOAT16:
            return "float16";
        case OnnxElementType::DOUBLE:
            return "double";
        case OnnxElementType::UINT32:
            return "uint32";
        case OnnxElementType::UINT64:
            return "uint64";
        case OnnxElementType::BFLOAT16:
            return "bfloat16";
        case OnnxElementType::UNDEFINED:
            return "undefined";
    }
    return "unknown";
}

}  // namespace corun::onnx
