// Output shapes: corun finds the shapes of dynamic outputs at configure() (docs/API.md), and
// documents InferStream::set_shape on an output for shapes it cannot find (they depend on input
// values: NonZero, Unique, ...). The runner first runs the test as it is; only when that fails
// at configure() or on an output's size, and the model leaves an output dynamic, does it run
// again with the output shapes declared from the expected outputs, as a user who knows them
// would, and says so in the result's note.
#include "corun_runner.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "tensor_comparison.hpp"

namespace corun::conformance {
namespace {

using onnx::OnnxElementType;

// corun bounds a frame itself (InferModel::set_frame_time_limit) well inside the driver's
// per-side timeout (60 s), so a runaway frame is corun's own TIMEOUT, not a killed worker.
constexpr std::chrono::milliseconds kFrameTimeLimit{30'000};
constexpr std::chrono::milliseconds kRunTimeout{45'000};

std::optional<FormatType> format_type_of(OnnxElementType type) {
    switch (type) {
        case OnnxElementType::FLOAT:
            return FormatType::FLOAT32;
        case OnnxElementType::UINT8:
            return FormatType::UINT8;
        case OnnxElementType::INT8:
            return FormatType::INT8;
        case OnnxElementType::UINT16:
            return FormatType::UINT16;
        case OnnxElementType::INT16:
            return FormatType::INT16;
        case OnnxElementType::INT32:
            return FormatType::INT32;
        case OnnxElementType::INT64:
            return FormatType::INT64;
        case OnnxElementType::STRING:
            return FormatType::STRING;
        case OnnxElementType::BOOL:
            return FormatType::BOOL;
        case OnnxElementType::FLOAT16:
            return FormatType::FLOAT16;
        case OnnxElementType::DOUBLE:
            return FormatType::FLOAT64;
        case OnnxElementType::UINT32:
            return FormatType::UINT32;
        case OnnxElementType::UINT64:
            return FormatType::UINT64;
        case OnnxElementType::BFLOAT16:
            return FormatType::BFLOAT16;
        default:
            return std::nullopt;
    }
}

OnnxElementType onnx_type_of(FormatType type) {
    for (int value = 0; value <= 16; ++value) {
        const auto onnx_type = static_cast<OnnxElementType>(value);
        if (format_type_of(onnx_type) == type) return onnx_type;
    }
    return OnnxElementType::UNDEFINED;
}

bool has_dynamic_dims(const std::vector<int64_t>& dims) {
    return std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 0; });
}

SideResult failure(const std::string& stage, const Status& status, const std::string& context) {
    return SideResult::fail(stage, status_code_name(status.code()),
                            context.empty() ? status.message() : context + ": " + status.message());
}

SideResult run_data_set(InferModel& model, const NodeTestCase& test, const NodeTestDataSet& set,
                        bool declare_outputs) {
    for (size_t i = 0; i < set.inputs.size(); ++i) {
        if (!set.inputs[i]) continue;
        auto stream = model.inputs()[i];
        if (!has_dynamic_dims(stream.native_shape()) &&
            !has_dynamic_dims(test.model.inputs[i].dims)) {
            continue;
        }
        Status status = stream.set_shape(set.inputs[i]->dims);
        if (!status.is_ok())
            return failure("shape", status, "set_shape of input '" + stream.name() + "'");
    }
    if (declare_outputs) {
        for (size_t i = 0; i < set.outputs.size(); ++i) {
            if (!has_dynamic_dims(test.model.outputs[i].dims)) continue;
            auto stream = model.outputs()[i];
            Status status = stream.set_shape(set.outputs[i].dims);
            if (!status.is_ok()) {
                return failure("shape", status, "set_shape of output '" + stream.name() + "'");
            }
        }
    }
    auto configured = model.configure();
    if (!configured) return failure("configure", configured.status(), "");
    auto bindings = configured.value().create_bindings();
    if (!bindings) return failure("bind", bindings.status(), "create_bindings");

    // Buffers in the model's native types, as the test's tensors hold them.
    std::vector<std::vector<uint8_t>> inputs(set.inputs.size());
    for (size_t i = 0; i < set.inputs.size(); ++i) {
        if (!set.inputs[i]) continue;  // an optional input the test leaves out: left unbound
        const auto& tensor = *set.inputs[i];
        const auto& stream = model.inputs()[i];
        if (format_type_of(tensor.type) != stream.format().type) {
            return SideResult::fail("bind", "",
                                    "input '" + stream.name() + "' resolves to " +
                                        format_type_name(stream.format().type) +
                                        " but the test feeds " +
                                        onnx::onnx_element_type_name(tensor.type));
        }
        inputs[i] = tensor.bytes;
        auto bound = bindings.value().input(stream.name());
        if (!bound) return failure("bind", bound.status(), "");
        Status status = bound.value().set_buffer(MemoryView(inputs[i].data(), inputs[i].size()));
        if (!status.is_ok()) return failure("bind", status, "");
    }
    std::vector<std::vector<uint8_t>> outputs(set.outputs.size());
    for (size_t i = 0; i < set.outputs.size(); ++i) {
        const auto& expected = set.outputs[i];
        const auto& stream = model.outputs()[i];
        auto bound = bindings.value().output(stream.name());
        if (!bound) return failure("bind", bound.status(), "");
        const size_t frame = bound.value().get_frame_size();
        // A STRING output has no fixed frame size: the buffer is sized for the expected strings.
        const bool variable = expected.type == OnnxElementType::STRING;
        if (!variable && frame != expected.bytes.size()) {
            return SideResult::fail("shape", "",
                                    "output '" + stream.name() + "' is " + std::to_string(frame) +
                                        " bytes per frame through corun; the expected output (" +
                                        onnx::onnx_element_type_name(expected.type) + " " +
                                        shape_text(expected.dims) + ") is " +
                                        std::to_string(expected.bytes.size()) + " bytes");
        }
        outputs[i].assign(variable ? expected.bytes.size() : frame, 0);
        Status status = bound.value().set_buffer(MemoryView(outputs[i].data(), outputs[i].size()));
        if (!status.is_ok()) return failure("bind", status, "");
    }
    Status status = configured.value().run(bindings.value(), kRunTimeout);
    if (!status.is_ok()) return failure("run", status, "");
    for (size_t i = 0; i < set.outputs.size(); ++i) {
        const auto& stream = model.outputs()[i];
        ActualTensor actual;
        actual.type = onnx_type_of(stream.format().type);
        actual.bytes = outputs[i];
        if (auto difference = compare_output(stream.name(), actual, set.outputs[i])) {
            return SideResult::fail("compare", "", *difference);
        }
    }
    return SideResult::pass();
}

}  // namespace

SideResult run_on_corun(VDevice& vdevice, const NodeTestCase& test) {
    auto loaded = vdevice.create_infer_model(test.model_path);
    if (!loaded) return failure("load", loaded.status(), "");
    InferModel& model = *loaded.value();
    Status limited = model.set_frame_time_limit(kFrameTimeLimit);
    if (!limited.is_ok()) return failure("load", limited, "set_frame_time_limit");
    const bool outputs_dynamic =
        std::any_of(test.model.outputs.begin(), test.model.outputs.end(),
                    [](const auto& output) { return has_dynamic_dims(output.dims); });
    bool declare_outputs = false;
    for (const auto& set : test.data_sets) {
        SideResult result = run_data_set(model, test, set, declare_outputs);
        if (!result.passed && outputs_dynamic && !declare_outputs &&
            (result.stage == "configure" || result.stage == "shape")) {
            SideResult declared = run_data_set(model, test, set, true);
            if (declared.passed) {
                declare_outputs = true;
                result = declared;
            } else {
                declared.message +=
                    " (with output shapes declared; as the model is: " + result.message + ")";
                result = declared;
            }
        }
        if (!result.passed) {
            result.message = set.name + ": " + result.message;
            return result;
        }
    }
    return SideResult::pass(declare_outputs ? "output shapes declared with set_shape" : "");
}

}  // namespace corun::conformance
