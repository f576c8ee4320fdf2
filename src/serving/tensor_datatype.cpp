#include "serving/tensor_datatype.hpp"

#include <array>
#include <utility>

namespace corun::serving {
namespace {

// The protocol's datatypes (KServe v2 "Tensor Data Types"), BF16 as Triton adds it.
constexpr std::array<std::pair<FormatType, const char*>, 14> DATATYPES{{
    {FormatType::BOOL, "BOOL"},
    {FormatType::UINT8, "UINT8"},
    {FormatType::UINT16, "UINT16"},
    {FormatType::UINT32, "UINT32"},
    {FormatType::UINT64, "UINT64"},
    {FormatType::INT8, "INT8"},
    {FormatType::INT16, "INT16"},
    {FormatType::INT32, "INT32"},
    {FormatType::INT64, "INT64"},
    {FormatType::FLOAT16, "FP16"},
    {FormatType::FLOAT32, "FP32"},
    {FormatType::FLOAT64, "FP64"},
    {FormatType::BFLOAT16, "BF16"},
    {FormatType::STRING, "BYTES"},
}};

}  // namespace

const char* datatype_name(FormatType type) {
    for (const auto& [format_type, name] : DATATYPES) {
        if (format_type == type) return name;
    }
    return nullptr;
}

std::optional<FormatType> datatype_format_type(std::string_view datatype) {
    for (const auto& [format_type, name] : DATATYPES) {
        if (datatype == name) return format_type;
    }
    return std::nullopt;
}

}  // namespace corun::serving
