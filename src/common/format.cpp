#include "corun/format.hpp"

namespace corun {

const char* format_type_name(FormatType type) {
    switch (type) {
        case FormatType::AUTO:
            return "AUTO";
        case FormatType::UINT8:
            return "UINT8";
        case FormatType::UINT16:
            return "UINT16";
        case FormatType::FLOAT32:
            return "FLOAT32";
        case FormatType::INT8:
            return "INT8";
        case FormatType::INT32:
            return "INT32";
        case FormatType::INT64:
            return "INT64";
        case FormatType::FLOAT16:
            return "FLOAT16";
        case FormatType::BFLOAT16:
            return "BFLOAT16";
        case FormatType::FLOAT64:
            return "FLOAT64";
        case FormatType::BOOL:
            return "BOOL";
        case FormatType::INT16:
            return "INT16";
        case FormatType::UINT32:
            return "UINT32";
        case FormatType::UINT64:
            return "UINT64";
        case FormatType::STRING:
            return "STRING";
    }
    return "UNKNOWN";
}

const char* format_order_name(FormatOrder order) {
    switch (order) {
        case FormatOrder::AUTO:
            return "AUTO";
        case FormatOrder::NHWC:
            return "NHWC";
        case FormatOrder::NCHW:
            return "NCHW";
        case FormatOrder::NC:
            return "NC";
        case FormatOrder::NHW:
            return "NHW";
        case FormatOrder::FLAT:
            return "FLAT";
    }
    return "UNKNOWN";
}

std::string shape_text(const std::vector<int64_t>& dims) {
    std::string text = "[";
    for (size_t i = 0; i < dims.size(); ++i) {
        if (i > 0) text += ',';
        text += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
    }
    text += ']';
    return text;
}

size_t format_type_size(FormatType type) {
    switch (type) {
        case FormatType::AUTO:
        case FormatType::STRING:
            return 0;
        case FormatType::UINT8:
        case FormatType::INT8:
        case FormatType::BOOL:
            return 1;
        case FormatType::UINT16:
        case FormatType::INT16:
        case FormatType::FLOAT16:
        case FormatType::BFLOAT16:
            return 2;
        case FormatType::FLOAT32:
        case FormatType::INT32:
        case FormatType::UINT32:
            return 4;
        case FormatType::INT64:
        case FormatType::UINT64:
        case FormatType::FLOAT64:
            return 8;
    }
    return 0;
}

}  // namespace corun
