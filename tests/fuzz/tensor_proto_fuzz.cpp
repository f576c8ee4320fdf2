// libFuzzer target for read_tensor_proto (src/onnx/tensor_proto_file.hpp), the reader of the
// standalone TensorProto files the conformance harness takes from outside (ONNX's
// input_K.pb / output_K.pb). Beyond "no crash, no leak, no undefined behaviour" it checks what
// a caller relies on when the reader succeeds: element_count is the product of dims, the bytes
// are exactly element_count x element size for fixed-size types, and STRING bytes parse with
// common::read_string_elements to exactly element_count elements. Errors must carry a message.
// Seeds: tests/fuzz/tensor_proto_corpus (input_0.pb files of ONNX's node tests).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "common/string_elements.hpp"
#include "fuzz_fail.hpp"
#include "onnx/tensor_proto_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto tensor = corun::onnx::read_tensor_proto(std::span<const uint8_t>(data, size));
    if (!tensor) {
        if (tensor.status().message().empty()) fail("an error without a message");
        return 0;
    }
    int64_t count = 1;
    for (const int64_t dim : tensor->dims) {
        if (dim < 0) fail("a negative dimension was accepted");
        if (__builtin_mul_overflow(count, dim, &count)) fail("dims whose product overflows");
    }
    if (count != tensor->element_count) fail("element_count is not the product of dims");
    if (tensor->type == corun::onnx::OnnxElementType::STRING) {
        const auto elements = corun::common::read_string_elements(
            tensor->bytes.data(), tensor->bytes.size(), static_cast<size_t>(count));
        if (!elements) fail("STRING bytes that do not parse to element_count elements");
        return 0;
    }
    const size_t element_size = corun::onnx::tensor_element_size(tensor->type);
    if (element_size == 0) fail("a type without a dense layout was accepted");
    // count x element_size cannot overflow here: the bytes hold that many, or the check fails.
    if (tensor->bytes.size() % element_size != 0 ||
        tensor->bytes.size() / element_size != static_cast<uint64_t>(count)) {
        fail("bytes that are not element_count x element size");
    }
    return 0;
}
