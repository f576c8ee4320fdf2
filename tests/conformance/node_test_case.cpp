#include "node_test_case.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace corun::conformance {
namespace {

namespace fs = std::filesystem;

Expected<std::vector<uint8_t>> read_file(const fs::path& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return Status(StatusCode::NOT_FOUND, "cannot open '" + path.string() + "'");
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), {});
}

// Which slot of `names` a tensor file fills: its own name when it is one of them (ONNX's test
// generator writes the graph's names), else its position, as ONNX's backend runner feeds them.
Expected<size_t> slot_for(const onnx::TensorProtoData& tensor, size_t position,
                          const std::vector<std::string>& names, const std::string& file) {
    const auto found = std::find(names.begin(), names.end(), tensor.name);
    if (found != names.end()) return static_cast<size_t>(found - names.begin());
    if (position < names.size()) return position;
    return Status(StatusCode::INVALID_ARGUMENT,
                  "'" + file + "' is tensor " + std::to_string(position) + " but the model has " +
                      std::to_string(names.size()));
}

Expected<NodeTestDataSet> read_data_set(const fs::path& folder, const onnx::OnnxModelFile& model) {
    NodeTestDataSet set;
    set.name = folder.filename().string();
    std::vector<std::string> input_names, output_names;
    for (const auto& input : model.inputs) input_names.push_back(input.name);
    for (const auto& output : model.outputs) output_names.push_back(output.name);
    set.inputs.resize(model.inputs.size());
    std::vector<std::optional<onnx::TensorProtoData>> outputs(model.outputs.size());
    for (const char* kind : {"input", "output"}) {
        const bool is_input = kind[0] == 'i';
        for (size_t k = 0;; ++k) {
            const fs::path file = folder / (std::string(kind) + "_" + std::to_string(k) + ".pb");
            if (!fs::exists(file)) break;
            CORUN_TRY(auto tensor, onnx::read_tensor_proto_file(file.string()));
            CORUN_TRY(const size_t slot,
                      slot_for(tensor, k, is_input ? input_names : output_names, file.string()));
            // ONNX 1.12's test generator wrote bfloat16 tensors as uint16 holding their bits
            // (numpy has no bfloat16): they are the bfloat16 values the model declares.
            const auto declared = (is_input ? model.inputs : model.outputs)[slot].type;
            if (declared == onnx::OnnxElementType::BFLOAT16 &&
                tensor.type == onnx::OnnxElementType::UINT16) {
                tensor.type = onnx::OnnxElementType::BFLOAT16;
            }
            (is_input ? set.inputs : outputs)[slot] = std::move(tensor);
        }
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
        if (!outputs[i]) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          set.name + " has no expected value for output '" + output_names[i] + "'");
        }
        set.outputs.push_back(std::move(*outputs[i]));
    }
    return set;
}

}  // namespace

Expected<NodeTestCase> read_node_test_case(const std::string& folder) {
    NodeTestCase test;
    const fs::path root(folder);
    test.name = root.filename().string();
    if (test.name.empty()) test.name = root.parent_path().filename().string();
    test.model_path = (root / "model.onnx").string();
    CORUN_TRY(const auto bytes, read_file(test.model_path));
    CORUN_TRY(test.model, onnx::read_onnx_model(bytes), "reading " + test.model_path);

    // The reader leaves the element type UNDEFINED for every TypeProto other than tensor_type.
    for (const auto* streams : {&test.model.inputs, &test.model.outputs}) {
        for (const auto& stream : *streams) {
            if (stream.type != onnx::OnnxElementType::UNDEFINED) continue;
            test.not_tensor_reason =
                std::string(streams == &test.model.inputs ? "input" : "output") + " '" +
                stream.name + "' is not a tensor (sequence, map or optional type)";
            return test;
        }
    }

    std::vector<fs::path> sets;
    for (const auto& entry : fs::directory_iterator(root)) {
        if (entry.is_directory() &&
            entry.path().filename().string().starts_with("test_data_set_")) {
            sets.push_back(entry.path());
        }
    }
    std::sort(sets.begin(), sets.end());
    for (const auto& set : sets) {
        CORUN_TRY(auto data, read_data_set(set, test.model));
        test.data_sets.push_back(std::move(data));
    }
    return test;
}

}  // namespace corun::conformance
