// Compares an output with its expected value as ONNX's backend test runner does
// (onnx/backend/test/runner: assert_allclose with rtol 1e-3, atol 1e-7 for floating types),
// except that integers, bools and strings must be equal exactly. NaN equals NaN; infinities
// must match in sign.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "onnx/tensor_proto_file.hpp"

namespace corun::conformance {

inline constexpr double kRelativeTolerance = 1e-3;
inline constexpr double kAbsoluteTolerance = 1e-7;

struct ActualTensor {
    onnx::OnnxElementType type = onnx::OnnxElementType::UNDEFINED;
    // The dimensions the runtime reported; std::nullopt where it reports only a byte count (a
    // corun output buffer), then the element count stands in for the shape.
    std::optional<std::vector<int64_t>> dims;
    std::span<const uint8_t> bytes;  // dense, little-endian; STRING in corun's BYTES layout
};

// std::nullopt when `actual` matches `expected`; otherwise what differs, naming the output,
// e.g. "output 'y': 3 of 60 values differ; first at [1,0,2]: got 0.5, expected 0.25".
std::optional<std::string> compare_output(const std::string& output_name,
                                          const ActualTensor& actual,
                                          const onnx::TensorProtoData& expected);

}  // namespace corun::conformance
