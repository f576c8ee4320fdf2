// libFuzzer target for the REST front's request decoding (src/serving/rest_codec.hpp): the
// KServe v2 JSON header with the binary-data extension, exactly as the HTTP front hands it over.
// The first byte says whether an Inference-Header-Content-Length header is sent (odd) and the
// next two its value (any, also beyond the body); the rest is the body. Whatever the bytes:
// no crash, no undefined behaviour, no read outside the body, and a decoded request keeps its
// promises: every tensor's bytes match its shape and datatype (BYTES: exactly its elements),
// and encoding those tensors back as a response (JSON and binary) yields a JSON header that
// parses and a binary part of exactly their sizes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/string_elements.hpp"
#include "fuzz_fail.hpp"
#include "serving/rest_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) return 0;
    const bool send_length = (data[0] & 1) != 0;
    const size_t declared = static_cast<size_t>(data[1]) | (static_cast<size_t>(data[2]) << 8);
    // A copy of exactly the body's bytes, so that ASan sees any read past its end.
    const std::string body(reinterpret_cast<const char*>(data + 3), size - 3);
    const std::string length_text = std::to_string(declared);
    auto request = corun::serving::decode_rest_infer_request(
        body, send_length ? std::optional<std::string_view>(length_text) : std::nullopt);
    if (!request) {
        if (request.status().message().empty()) fail("a refusal without a reason");
        return 0;
    }
    corun::serving::InferResponse response;
    response.model_name = "m";
    response.model_version = "1";
    uint64_t binary_size = 0;
    for (const auto& tensor : request->inputs) {
        uint64_t count = 1;
        for (int64_t dim : tensor.shape) {
            if (dim < 0) fail("a negative dimension was accepted");
            count *= static_cast<uint64_t>(dim);
        }
        const size_t element_size = corun::format_type_size(tensor.type);
        if (tensor.type == corun::FormatType::STRING) {
            if (!corun::common::read_string_elements(tensor.data.data(), tensor.data.size(),
                                                     count)) {
                fail("BYTES data that does not hold its elements was accepted");
            }
        } else if (count * element_size != tensor.data.size()) {
            fail("data whose size does not match shape and datatype was accepted");
        }
        const bool binary = (tensor.data.size() & 1) != 0;
        response.outputs.push_back(tensor);
        response.binary_outputs.push_back(binary);
        if (binary) binary_size += tensor.data.size();
    }
    const auto encoded = corun::serving::encode_rest_infer_response(response);
    const size_t json_length = encoded.json_length.value_or(encoded.body.size());
    if (json_length + binary_size != encoded.body.size()) fail("binary part of the wrong size");
    if (!nlohmann::json::accept(encoded.body.substr(0, json_length))) {
        fail("the response's JSON does not parse");
    }
    return 0;
}
