// What to tell a user when ONNX Runtime has no CPU kernel for an operator of their model.
// ORT says only "Could not find an implementation for Cos(7) node with name 'n'": the
// operator is usually standard, and what is missing is its kernel for the element type the
// model gives it (ORT registers most kernels for float and a few other types). This names the
// operator, its domain and the element types of its inputs where the model declares them.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace corun::devices::cpu {

// The advice appended to ORT's message (starting with "; "), or "" when `ort_message` is not
// about a missing kernel. `model` is the model's bytes, read to find the node's input types.
std::string missing_kernel_advice(const std::string& ort_message, std::span<const uint8_t> model,
                                  const std::string& ort_version);

}  // namespace corun::devices::cpu
