// One ONNX backend node test (a folder of Debian's libonnx-testdata: model.onnx and
// test_data_set_N/{input_K.pb, output_K.pb}) read into memory with corun's own readers: the
// model's declared streams (src/onnx/onnx_model_file.hpp) and each TensorProto
// (src/onnx/tensor_proto_file.hpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "onnx/onnx_model_file.hpp"
#include "onnx/tensor_proto_file.hpp"

namespace corun::conformance {

struct NodeTestDataSet {
    std::string name;  // "test_data_set_0"
    // One entry per model input (NodeTestCase::model.inputs order); has_value false where the
    // data set leaves an optional input out.
    std::vector<std::optional<onnx::TensorProtoData>> inputs;
    // One per model output, in the model's order.
    std::vector<onnx::TensorProtoData> outputs;
};

struct NodeTestCase {
    std::string name;  // the folder name, "test_add"
    std::string model_path;
    onnx::OnnxModelFile model;
    // Empty when every input and output is a tensor; otherwise which one is not (a sequence,
    // map or optional: corun's API binds tensors only, so such tests are counted apart).
    std::string not_tensor_reason;
    std::vector<NodeTestDataSet> data_sets;  // read only for tensor-only tests
};

// Reads the folder. Errors (unreadable model or data) name the file.
Expected<NodeTestCase> read_node_test_case(const std::string& folder);

}  // namespace corun::conformance
