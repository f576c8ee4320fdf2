#include "ort_reference_runner.hpp"

#include <onnxruntime_cxx_api.h>

#include <cstring>

#include "tensor_comparison.hpp"

namespace corun::conformance {
namespace {

// ONNX Runtime allows one environment per process: this handle is the one corun's first model
// made (the worker runs corun's side first), or, if corun never loaded one, a new one.
Ort::Env& environment() {
    static Ort::Env* env = new Ort::Env(ORT_LOGGING_LEVEL_ERROR, "conformance-reference");
    return *env;
}

std::string error_code_name(OrtErrorCode code) {
    switch (code) {
        case ORT_FAIL:
            return "ORT_FAIL";
        case ORT_INVALID_ARGUMENT:
            return "ORT_INVALID_ARGUMENT";
        case ORT_NO_SUCHFILE:
            return "ORT_NO_SUCHFILE";
        case ORT_NO_MODEL:
            return "ORT_NO_MODEL";
        case ORT_ENGINE_ERROR:
            return "ORT_ENGINE_ERROR";
        case ORT_RUNTIME_EXCEPTION:
            return "ORT_RUNTIME_EXCEPTION";
        case ORT_INVALID_PROTOBUF:
            return "ORT_INVALID_PROTOBUF";
        case ORT_MODEL_LOADED:
            return "ORT_MODEL_LOADED";
        case ORT_NOT_IMPLEMENTED:
            return "ORT_NOT_IMPLEMENTED";
        case ORT_INVALID_GRAPH:
            return "ORT_INVALID_GRAPH";
        case ORT_EP_FAIL:
            return "ORT_EP_FAIL";
        default:
            return "ORT_ERROR_" + std::to_string(static_cast<int>(code));
    }
}

Ort::Value make_input(const onnx::TensorProtoData& tensor, std::vector<uint8_t>& storage) {
    const auto type = static_cast<ONNXTensorElementDataType>(tensor.type);
    if (tensor.type == onnx::OnnxElementType::STRING) {
        Ort::AllocatorWithDefaultOptions allocator;
        Ort::Value value =
            Ort::Value::CreateTensor(allocator, tensor.dims.data(), tensor.dims.size(), type);
        // The BYTES layout: 4-byte length, then the bytes (which may hold NULs).
        size_t pos = 0;
        for (int64_t i = 0; i < tensor.element_count; ++i) {
            uint32_t length = 0;
            std::memcpy(&length, tensor.bytes.data() + pos, 4);
            char* target =
                value.GetResizedStringTensorElementBuffer(static_cast<size_t>(i), length);
            std::memcpy(target, tensor.bytes.data() + pos + 4, length);
            pos += 4 + length;
        }
        return value;
    }
    // ONNX Runtime takes a mutable pointer and never writes inputs; the copy keeps it honest. A
    // zero-size tensor still needs a non-null pointer.
    storage.assign(tensor.bytes.begin(), tensor.bytes.end());
    storage.push_back(0);
    const Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    return Ort::Value::CreateTensor(memory, storage.data(), tensor.bytes.size(), tensor.dims.data(),
                                    tensor.dims.size(), type);
}

// One output as type, dims and dense bytes (strings in the BYTES layout).
SideResult compare(const std::string& name, Ort::Value& value,
                   const onnx::TensorProtoData& expected) {
    if (!value.IsTensor()) {
        return SideResult::fail("compare", "", "output '" + name + "' is not a tensor");
    }
    const auto info = value.GetTensorTypeAndShapeInfo();
    ActualTensor actual;
    actual.type = static_cast<onnx::OnnxElementType>(info.GetElementType());
    actual.dims = info.GetShape();
    std::vector<uint8_t> strings;
    if (actual.type == onnx::OnnxElementType::STRING) {
        const size_t count = info.GetElementCount();
        for (size_t i = 0; i < count; ++i) {
            const size_t length = value.GetStringTensorElementLength(i);
            std::string text(length, '\0');
            if (length > 0) value.GetStringTensorElement(length, i, text.data());
            const uint32_t length32 = static_cast<uint32_t>(length);
            const auto* length_bytes = reinterpret_cast<const uint8_t*>(&length32);
            strings.insert(strings.end(), length_bytes, length_bytes + 4);
            strings.insert(strings.end(), text.begin(), text.end());
        }
        actual.bytes = strings;
    } else {
        const size_t size = info.GetElementCount() * onnx::tensor_element_size(actual.type);
        actual.bytes =
            std::span<const uint8_t>(static_cast<const uint8_t*>(value.GetTensorRawData()), size);
    }
    if (auto difference = compare_output(name, actual, expected)) {
        return SideResult::fail("compare", "", *difference);
    }
    return SideResult::pass();
}

}  // namespace

SideResult run_on_onnx_runtime(const NodeTestCase& test) {
    std::string stage = "load";
    try {
        Ort::SessionOptions options;
        // The worker runs beside another on two cores: one thread each, as corun's side.
        options.SetIntraOpNumThreads(1);
        options.SetInterOpNumThreads(1);
        Ort::Session session(environment(), test.model_path.c_str(), options);
        std::vector<const char*> output_names;
        for (const auto& output : test.model.outputs) output_names.push_back(output.name.c_str());
        for (const auto& set : test.data_sets) {
            stage = "run";
            std::vector<const char*> input_names;
            std::vector<Ort::Value> inputs;
            std::vector<std::vector<uint8_t>> storage(set.inputs.size());
            for (size_t i = 0; i < set.inputs.size(); ++i) {
                if (!set.inputs[i]) continue;  // an optional input the test leaves out
                input_names.push_back(test.model.inputs[i].name.c_str());
                inputs.push_back(make_input(*set.inputs[i], storage[i]));
            }
            auto outputs = session.Run(Ort::RunOptions{nullptr}, input_names.data(), inputs.data(),
                                       inputs.size(), output_names.data(), output_names.size());
            stage = "compare";
            for (size_t i = 0; i < outputs.size(); ++i) {
                SideResult result = compare(test.model.outputs[i].name, outputs[i], set.outputs[i]);
                if (!result.passed) {
                    result.message = set.name + ": " + result.message;
                    return result;
                }
            }
        }
    } catch (const Ort::Exception& error) {
        return SideResult::fail(stage, error_code_name(error.GetOrtErrorCode()), error.what());
    } catch (const std::exception& error) {
        return SideResult::fail(stage, "exception", error.what());
    }
    return SideResult::pass();
}

}  // namespace corun::conformance
