// KServe v2 tensor datatypes ("FP32", "INT64", "BYTES", ...) and corun's element types: the
// one table both fronts (REST and gRPC) use to name what a model takes.
#pragma once

#include <optional>
#include <string_view>

#include "corun/format.hpp"

namespace corun::serving {

// The protocol's name of a corun element type ("FP32" for FLOAT32, "BYTES" for STRING);
// nullptr for AUTO.
const char* datatype_name(FormatType type);

// The element type a protocol datatype names; nullopt for a name the protocol does not have.
std::optional<FormatType> datatype_format_type(std::string_view datatype);

}  // namespace corun::serving
