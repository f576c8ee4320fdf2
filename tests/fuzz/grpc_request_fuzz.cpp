// libFuzzer target for the gRPC front's request decoding (src/serving/grpc_codec.hpp): the bytes
// are parsed as a KServe v2 ModelInferRequest exactly as gRPC hands the front a message, then
// decoded (with no shared-memory region registered, so that a request naming one must fail
// cleanly). Whatever the bytes: no crash, no undefined behaviour, and a decoded request keeps
// its promises: every tensor's bytes match its shape and datatype (BYTES: exactly its
// elements), and encoding those tensors back as a response puts exactly their bytes in
// raw_output_contents, in a message that serializes and parses again.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/string_elements.hpp"
#include "fuzz_fail.hpp"
#include "serving/grpc_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    inference::ModelInferRequest message;
    if (!message.ParseFromArray(data, static_cast<int>(size))) return 0;
    static const corun::serving::SharedMemoryRegions no_regions;
    auto decoded = corun::serving::decode_grpc_infer_request(message, no_regions);
    if (!decoded) {
        if (decoded.status().message().empty()) fail("a refusal without a reason");
        return 0;
    }
    if (!decoded->shared_memory_outputs.empty()) fail("a region that is not registered was used");
    corun::serving::InferResponse response;
    response.model_name = message.model_name();
    response.id = message.id();
    for (const auto& tensor : decoded->request.inputs) {
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
        response.outputs.push_back(tensor);
    }
    inference::ModelInferResponse encoded;
    if (!corun::serving::encode_grpc_infer_response(response, {}, encoded).is_ok()) {
        fail("encoding a response without shared memory failed");
    }
    if (encoded.raw_output_contents_size() != static_cast<int>(response.outputs.size())) {
        fail("raw_output_contents do not match the outputs");
    }
    for (size_t i = 0; i < response.outputs.size(); ++i) {
        const auto& bytes = response.outputs[i].data;
        if (encoded.raw_output_contents(static_cast<int>(i)) !=
            std::string(bytes.begin(), bytes.end())) {
            fail("an output's raw bytes differ from its tensor's");
        }
    }
    std::string wire;
    inference::ModelInferResponse parsed;
    if (!encoded.SerializeToString(&wire) || !parsed.ParseFromString(wire)) {
        fail("the response does not serialize and parse again");
    }
    return 0;
}
