// The REST front's wire format (KServe v2 HTTP/REST with the binary-data extension) to and from
// the protocol-neutral InferRequest/InferResponse. No HTTP here: the front hands over the body
// and the Inference-Header-Content-Length header, so the fuzzer drives exactly this code.
//
// A request body is a JSON header, optionally followed by the binary data of the inputs that
// say `"parameters": {"binary_data_size": N}`, in their order; Inference-Header-Content-Length
// tells where the JSON ends. Everything is checked before it is used: JSON syntax, types of
// every field, datatypes, shapes (rank, non-negative, no overflow), element counts against the
// shape, binary sizes against the body. Errors are INVALID_ARGUMENT naming the tensor and the
// cause; nothing here throws, crashes or allocates more than the body justifies.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "corun/expected.hpp"
#include "serving/inference_request.hpp"

namespace corun::serving {

// Bounds on what one request may declare (beyond the body size the front limits).
constexpr size_t MAX_REST_TENSORS = 256;  // inputs, and outputs asked for
constexpr size_t MAX_TENSOR_RANK = 16;
// The JSON part of a request: parsed JSON takes about 12 times its text in memory (a number of
// two characters becomes a 16-byte value and its 8-byte place in the tensor), so large tensors
// travel as binary data, which is copied once as it is.
constexpr size_t MAX_REST_JSON_BYTES = size_t{16} << 20;

// `header_length` is the Inference-Header-Content-Length value as sent (nullopt when absent:
// then the whole body is JSON). Model name and version come from the URL, not from here.
Expected<InferRequest> decode_rest_infer_request(std::string_view body,
                                                 std::optional<std::string_view> header_length);

struct RestResponseBody {
    std::string body;
    // Set when binary outputs follow the JSON: the value of Inference-Header-Content-Length,
    // and the body is application/octet-stream; otherwise application/json.
    std::optional<size_t> json_length;
};

RestResponseBody encode_rest_infer_response(const InferResponse& response);

// The protocol's error body: {"error": "<message>"}.
std::string rest_error_body(std::string_view message);

}  // namespace corun::serving
