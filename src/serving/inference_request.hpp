// A decoded KServe v2 inference request and its response, the same whichever front (REST or
// gRPC) received it: tensors as the protocol defines them (name, datatype, shape, raw
// little-endian elements; BYTES elements as 4-byte length + bytes, corun's STRING layout).
// The fronts decode into these and encode from them; InferenceService runs them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "corun/format.hpp"

namespace corun::serving {

struct InferTensor {
    std::string name;
    FormatType type = FormatType::AUTO;  // from the protocol's datatype (tensor_datatype.hpp)
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;  // every element, row-major, as the wire's binary form has them
};

// An output the client asked for by name, and how it wants it back.
struct RequestedOutput {
    std::string name;
    bool binary_data = false;  // REST binary-data extension: raw bytes after the JSON
};

struct InferRequest {
    std::string model_name;
    std::string model_version;  // "" = the model's default (its highest served version)
    std::string id;             // echoed in the response
    std::vector<InferTensor> inputs;
    std::vector<RequestedOutput> outputs;  // empty = every output of the model
    bool binary_data_output = false;       // default of outputs not listed (REST extension)
    // Triton's scheduling parameters: `priority` (0 = the model's own, 1 = the highest, larger
    // = lower; docs/SERVING.md maps it onto corun's 0..31) and `timeout` in microseconds (the
    // request must complete within it: it becomes the frame's deadline).
    std::optional<uint64_t> priority;
    std::optional<uint64_t> timeout_us;
};

struct InferResponse {
    std::string model_name;
    std::string model_version;
    std::string id;
    std::vector<InferTensor> outputs;
    std::vector<bool> binary_outputs;  // per output: send it as binary data (REST)
    // A routed model's placement that ran the frames (their labels, comma-separated in the
    // order first used, when they ran on more than one); "" for a model that is not routed.
    // Sent as the response parameter "placement".
    std::string placement;
};

}  // namespace corun::serving
