#include "devices/cpu/missing_kernel.hpp"

#include <map>

#include "onnx/onnx_model_file.hpp"
#include "onnx/tensor_proto_fields.hpp"

namespace corun::devices::cpu {
namespace {

struct MissingKernel {
    std::string op_type;  // "Cos"
    std::string opset;    // "7"
    std::string node_name;
};

// Parses "Could not find an implementation for Cos(7) node with name 'n'".
bool parse_missing_kernel(const std::string& message, MissingKernel& found) {
    const std::string marker = "Could not find an implementation for ";
    const size_t start = message.find(marker);
    if (start == std::string::npos) return false;
    const size_t op_start = start + marker.size();
    const size_t open = message.find('(', op_start);
    const size_t close = message.find(')', op_start);
    if (open == std::string::npos || close == std::string::npos || close < open) return false;
    found.op_type = message.substr(op_start, open - op_start);
    found.opset = message.substr(open + 1, close - open - 1);
    const std::string name_marker = "node with name '";
    const size_t name_start = message.find(name_marker, close);
    if (name_start != std::string::npos) {
        const size_t from = name_start + name_marker.size();
        const size_t end = message.find('\'', from);
        if (end != std::string::npos) found.node_name = message.substr(from, end - from);
    }
    return true;
}

// "float16, float16" for the node's inputs whose types the model declares (graph inputs,
// initializers, Constant values); "" when none is known.
std::string input_types(const onnx::OnnxModelFile& file, const onnx::OnnxNode& node) {
    std::map<std::string, onnx::OnnxElementType> known;
    for (const auto& input : file.inputs) known[input.name] = input.type;
    for (const auto& initializer : file.initializers) known[initializer.name] = initializer.type;
    for (const auto& other : file.nodes) {
        if (other.value_attribute && !other.outputs.empty()) {
            known[other.outputs.front()] = other.value_attribute->type;
        }
    }
    std::string text;
    for (const auto& input : node.inputs) {
        auto it = known.find(input);
        if (input.empty() || it == known.end()) continue;
        if (it->second == onnx::OnnxElementType::UNDEFINED) continue;
        text +=
            (text.empty() ? "" : ", ") + input + ": " + onnx::onnx_element_type_name(it->second);
    }
    return text;
}

}  // namespace

std::string missing_kernel_advice(const std::string& ort_message, std::span<const uint8_t> model,
                                  const std::string& ort_version) {
    MissingKernel missing;
    if (!parse_missing_kernel(ort_message, missing)) return "";
    std::string domain = "the standard ONNX domain";
    std::string types;
    auto file = onnx::read_onnx_model(model);
    if (file) {
        for (const auto& node : file->nodes) {
            const bool same_node = missing.node_name.empty() ? node.op_type == missing.op_type
                                                             : node.name == missing.node_name;
            if (!same_node || node.op_type != missing.op_type) continue;
            if (!node.domain.empty() && node.domain != "ai.onnx") {
                domain = "domain '" + node.domain + "'";
            }
            types = input_types(*file, node);
            break;
        }
    }
    return "; ONNX Runtime " + ort_version + "'s CPU provider has no kernel for operator " +
           missing.op_type + " (opset " + missing.opset + ", " + domain + ") with " +
           (types.empty() ? std::string("the element types this model gives it")
                          : "the element types this model gives it (" + types + ")") +
           ": the operator exists, its CPU kernel does not take these types. Run the model "
           "with types the kernel takes (e.g. export it in float32 instead of float16 or "
           "double), or on another device";
}

}  // namespace corun::devices::cpu
