// Tests for the protobuf reader: what it extracts from the generated models, and that corrupt
// bytes (truncations, garbage, lengths that point past the end) give INVALID_MODEL, not a crash.
#include "onnx/onnx_model_file.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace corun::onnx {
namespace {

std::vector<uint8_t> read_file_bytes(const std::string& filename) {
    const std::string path = std::string(CORUN_TEST_MODEL_DIR) + "/" + filename;
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot open " << path;
    in.seekg(0, std::ios::end);
    std::vector<uint8_t> bytes(static_cast<size_t>(std::max<std::streamoff>(in.tellg(), 0)));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    EXPECT_EQ(in.gcount(), static_cast<std::streamsize>(bytes.size())) << path;
    return bytes;
}

OnnxModelFile load(const std::string& filename) {
    const auto bytes = read_file_bytes(filename);
    auto model = read_onnx_model(bytes);
    EXPECT_TRUE(model.has_value()) << filename << ": " << model.status();
    return model.has_value() ? model.release() : OnnxModelFile{};
}

const OnnxNode* find_node(const OnnxModelFile& model, const std::string& op_type) {
    for (const auto& node : model.nodes) {
        if (node.op_type == op_type) return &node;
    }
    return nullptr;
}

// Whatever the bytes, the reader either parses them or says INVALID_MODEL.
void expect_parsed_or_invalid(std::span<const uint8_t> bytes) {
    auto model = read_onnx_model(bytes);
    if (!model.has_value()) {
        EXPECT_EQ(model.status().code(), StatusCode::INVALID_MODEL) << model.status();
        EXPECT_FALSE(model.status().message().empty());
    }
}

TEST(OnnxModelFileTest, AddOneHasItsInputsOutputsAndOpset) {
    const auto model = load("add_one.onnx");
    EXPECT_EQ(model.ir_version, 8);
    EXPECT_EQ(model.producer_name, "corun-test-models");
    ASSERT_EQ(model.opsets.count(""), 1u);
    EXPECT_EQ(model.opsets.at(""), 17);

    ASSERT_EQ(model.inputs.size(), 1u);
    EXPECT_EQ(model.inputs[0].name, "x");
    EXPECT_EQ(model.inputs[0].type, OnnxElementType::FLOAT);
    EXPECT_EQ(model.inputs[0].dims, (std::vector<int64_t>{1, 3, 4, 4}));
    EXPECT_EQ(model.inputs[0].dim_names, (std::vector<std::string>{"", "", "", ""}));
    ASSERT_EQ(model.outputs.size(), 1u);
    EXPECT_EQ(model.outputs[0].name, "y");
    EXPECT_EQ(model.outputs[0].type, OnnxElementType::FLOAT);
    EXPECT_EQ(model.outputs[0].dims, (std::vector<int64_t>{1, 3, 4, 4}));

    ASSERT_EQ(model.nodes.size(), 1u);
    EXPECT_EQ(model.nodes[0].op_type, "Add");
    EXPECT_EQ(model.nodes[0].inputs, (std::vector<std::string>{"x", "one"}));
    EXPECT_EQ(model.nodes[0].outputs, (std::vector<std::string>{"y"}));

    int64_t initializer_elements = 0;
    for (const auto& tensor : model.initializers) initializer_elements += tensor.element_count();
    EXPECT_EQ(model.parameter_count, initializer_elements);
    EXPECT_EQ(model.parameter_count, 1);
    EXPECT_EQ(model.scalar_constant("one"), 1.0);
    EXPECT_EQ(model.scalar_constant("x"), std::nullopt);
}

TEST(OnnxModelFileTest, QuantizedModelExposesScalesAndZeroPoints) {
    const auto model = load("quantized.onnx");

    const OnnxNode* dequantize = find_node(model, "DequantizeLinear");
    ASSERT_NE(dequantize, nullptr);
    ASSERT_EQ(dequantize->inputs.size(), 3u);
    EXPECT_EQ(dequantize->inputs[0], "q_in");
    EXPECT_EQ(model.scalar_constant(dequantize->inputs[1]), 0.5);   // raw_data float
    EXPECT_EQ(model.scalar_constant(dequantize->inputs[2]), 10.0);  // int32_data uint8

    const OnnxNode* quantize = find_node(model, "QuantizeLinear");
    ASSERT_NE(quantize, nullptr);
    ASSERT_EQ(quantize->inputs.size(), 3u);
    EXPECT_EQ(quantize->outputs, (std::vector<std::string>{"q_out"}));
    EXPECT_EQ(model.scalar_constant(quantize->inputs[1]), 0.25);
    EXPECT_EQ(model.scalar_constant(quantize->inputs[2]), 3.0);

    // The Mul's constant comes from a Constant node's value_float attribute.
    const OnnxNode* constant = find_node(model, "Constant");
    ASSERT_NE(constant, nullptr);
    ASSERT_TRUE(constant->value_attribute.has_value());
    EXPECT_EQ(constant->value_attribute->type, OnnxElementType::FLOAT);
    EXPECT_EQ(model.scalar_constant("two"), 2.0);

    ASSERT_EQ(model.inputs.size(), 1u);
    EXPECT_EQ(model.inputs[0].type, OnnxElementType::UINT8);
    EXPECT_EQ(model.outputs[0].type, OnnxElementType::UINT8);
    EXPECT_EQ(model.parameter_count, 4);
}

TEST(OnnxModelFileTest, ConstantNodeValueTensorIsAScalarConstant) {
    const auto model = load("batch_dynamic.onnx");
    EXPECT_EQ(model.scalar_constant("two"), 2.0);
    ASSERT_EQ(model.inputs.size(), 1u);
    EXPECT_EQ(model.inputs[0].dims, (std::vector<int64_t>{-1, 4}));
    EXPECT_EQ(model.inputs[0].dim_names, (std::vector<std::string>{"N", ""}));
}

TEST(OnnxModelFileTest, DynamicDimsAreMinusOneWithTheirNames) {
    const auto model = load("dynamic_dims.onnx");
    ASSERT_EQ(model.inputs.size(), 1u);
    EXPECT_EQ(model.inputs[0].dims, (std::vector<int64_t>{-1, 3, -1, -1}));
    EXPECT_EQ(model.inputs[0].dim_names,
              (std::vector<std::string>{"batch", "", "height", "width"}));
    ASSERT_EQ(model.outputs.size(), 1u);
    EXPECT_EQ(model.outputs[0].dims, (std::vector<int64_t>{-1, 3, -1, -1}));
}

TEST(OnnxModelFileTest, MetadataPropsBecomeTheMetadataMap) {
    const auto model = load("metadata_quant.onnx");
    const std::map<std::string, std::string> expected = {
        {"corun.quant.raw_in", "0.1,128"},
        {"corun.quant.raw_out", "0.1,128"},
    };
    EXPECT_EQ(model.metadata, expected);
}

TEST(OnnxModelFileTest, CustomDomainOpsetAndNodeDomain) {
    const auto model = load("unsupported_op.onnx");
    ASSERT_EQ(model.opsets.count("com.example.corun"), 1u);
    EXPECT_EQ(model.opsets.at("com.example.corun"), 1);
    ASSERT_EQ(model.nodes.size(), 1u);
    EXPECT_EQ(model.nodes[0].op_type, "NoSuchOperator");
    EXPECT_EQ(model.nodes[0].domain, "com.example.corun");
}

TEST(OnnxModelFileTest, SlowMatmulParameterCountAndNoLargeValues) {
    const auto model = load("slow_matmul.onnx");
    EXPECT_EQ(model.parameter_count, 24 * 512 * 512);
    ASSERT_EQ(model.initializers.size(), 24u);
    for (const auto& tensor : model.initializers) {
        EXPECT_EQ(tensor.dims, (std::vector<int64_t>{512, 512}));
        EXPECT_TRUE(tensor.values.empty()) << tensor.name;  // too big to decode
    }
    EXPECT_EQ(model.nodes.size(), 48u);
}

TEST(OnnxModelFileTest, Int64InputAndConvWeights) {
    const auto tokens = load("int64_tokens.onnx");
    ASSERT_EQ(tokens.inputs.size(), 1u);
    EXPECT_EQ(tokens.inputs[0].type, OnnxElementType::INT64);
    const auto conv = load("conv_nchw.onnx");
    EXPECT_EQ(conv.parameter_count, 8 * 3 * 3 * 3 + 8);
    ASSERT_EQ(conv.inputs.size(), 1u);  // weights are initializers, not inputs
    EXPECT_EQ(conv.inputs[0].name, "image");
}

TEST(OnnxModelFileTest, EmptyBufferIsInvalid) {
    auto model = read_onnx_model({});
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::INVALID_MODEL);
}

TEST(OnnxModelFileTest, EveryTruncationOfAddOneParsesOrIsInvalid) {
    const auto bytes = read_file_bytes("add_one.onnx");
    ASSERT_FALSE(bytes.empty());
    int invalid = 0;
    for (size_t length = 0; length < bytes.size(); ++length) {
        // A copy of exactly `length` bytes, so the sanitizer sees any read past the prefix.
        const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + length);
        auto model = read_onnx_model(prefix);
        if (!model.has_value()) {
            ++invalid;
            EXPECT_EQ(model.status().code(), StatusCode::INVALID_MODEL) << "length " << length;
        }
    }
    // The graph is the one big field; cutting into it must be noticed.
    EXPECT_GT(invalid, static_cast<int>(bytes.size()) / 2);
}

TEST(OnnxModelFileTest, EveryTruncationOfQuantizedParsesOrIsInvalid) {
    const auto bytes = read_file_bytes("quantized.onnx");
    for (size_t length = 0; length < bytes.size(); ++length) {
        const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + length);
        expect_parsed_or_invalid(prefix);
    }
}

TEST(OnnxModelFileTest, RandomGarbageParsesOrIsInvalid) {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<size_t> length(1, 512);
    for (int i = 0; i < 2000; ++i) {
        std::vector<uint8_t> garbage(length(rng));
        for (auto& b : garbage) b = static_cast<uint8_t>(byte(rng));
        expect_parsed_or_invalid(garbage);
    }
}

TEST(OnnxModelFileTest, MutatedModelsParseOrAreInvalid) {
    // Flipping bytes of real models reaches deeper into the schema than pure garbage does.
    std::mt19937 rng(678);
    for (const char* name : {"add_one.onnx", "quantized.onnx", "dynamic_dims.onnx"}) {
        const auto original = read_file_bytes(name);
        ASSERT_FALSE(original.empty());
        std::uniform_int_distribution<size_t> position(0, original.size() - 1);
        std::uniform_int_distribution<int> byte(0, 255);
        for (int i = 0; i < 2000; ++i) {
            auto mutated = original;
            for (int flips = 1 + i % 3; flips > 0; --flips) {
                mutated[position(rng)] = static_cast<uint8_t>(byte(rng));
            }
            expect_parsed_or_invalid(mutated);
        }
    }
}

TEST(OnnxModelFileTest, LengthPastTheEndIsInvalidWithItsOffset) {
    // ModelProto.graph (field 7, length-delimited) claiming 100 bytes with only 3 present.
    const std::vector<uint8_t> bytes = {0x08, 0x08, 0x3A, 0x64, 0x0A, 0x01, 0x00};
    auto model = read_onnx_model(bytes);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::INVALID_MODEL);
    EXPECT_NE(model.status().message().find("at byte 3"), std::string::npos) << model.status();
    EXPECT_NE(model.status().message().find("ModelProto"), std::string::npos);
}

TEST(OnnxModelFileTest, HugeLengthIsRefusedBeforeAllocating) {
    // A 10-byte varint length of ~2^63 for producer_name (field 2).
    const std::vector<uint8_t> bytes = {0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                        0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    auto model = read_onnx_model(bytes);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::INVALID_MODEL);
}

TEST(OnnxModelFileTest, TruncatedVarintNamesTheMessagePath) {
    // graph { node { input: <tag then nothing> } }: the node's length covers a lone tag byte
    // whose varint continuation bit promises more.
    const std::vector<uint8_t> bytes = {0x3A, 0x03, 0x0A, 0x01, 0x80};
    auto model = read_onnx_model(bytes);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::INVALID_MODEL);
    EXPECT_NE(model.status().message().find("truncated varint"), std::string::npos)
        << model.status();
    EXPECT_NE(model.status().message().find("at byte 4 in ModelProto.graph.node"),
              std::string::npos)
        << model.status();
}

TEST(OnnxModelFileTest, PackedAndUnpackedDimsAndTypedValuesDecode) {
    // A hand-built initializer: dims unpacked (2) then packed (1), data_type INT64,
    // int64_data packed {-1, 7}, name "w". Checks both encodings and negative varints.
    std::vector<uint8_t> tensor = {0x08, 0x02,                    // dims: 2 (unpacked)
                                   0x0A, 0x01, 0x01,              // dims: [1] (packed)
                                   0x10, 0x07,                    // data_type: INT64
                                   0x3A, 0x0B,                    // int64_data, 11 bytes
                                   0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // -1 as a 10-byte varint
                                   0xFF, 0xFF, 0xFF, 0xFF, 0x01,  //
                                   0x07,                          // 7
                                   0x42, 0x01, 'w'};              // name: "w"
    std::vector<uint8_t> graph = {0x2A, static_cast<uint8_t>(tensor.size())};
    graph.insert(graph.end(), tensor.begin(), tensor.end());
    std::vector<uint8_t> bytes = {0x3A, static_cast<uint8_t>(graph.size())};
    bytes.insert(bytes.end(), graph.begin(), graph.end());

    auto model = read_onnx_model(bytes);
    ASSERT_TRUE(model.has_value()) << model.status();
    ASSERT_EQ(model->initializers.size(), 1u);
    const auto& w = model->initializers[0];
    EXPECT_EQ(w.name, "w");
    EXPECT_EQ(w.type, OnnxElementType::INT64);
    EXPECT_EQ(w.dims, (std::vector<int64_t>{2, 1}));
    EXPECT_EQ(w.values, (std::vector<double>{-1.0, 7.0}));
    EXPECT_EQ(model->parameter_count, 2);
}

TEST(OnnxModelFileTest, Float16RawDataConvertsToFloat) {
    // A scalar FLOAT16 initializer "h" holding 1.5 (0x3E00) in raw_data.
    const std::vector<uint8_t> tensor = {0x10, 0x0A, 0x42, 0x01, 'h', 0x4A, 0x02, 0x00, 0x3E};
    std::vector<uint8_t> graph = {0x2A, static_cast<uint8_t>(tensor.size())};
    graph.insert(graph.end(), tensor.begin(), tensor.end());
    std::vector<uint8_t> bytes = {0x3A, static_cast<uint8_t>(graph.size())};
    bytes.insert(bytes.end(), graph.begin(), graph.end());

    auto model = read_onnx_model(bytes);
    ASSERT_TRUE(model.has_value()) << model.status();
    EXPECT_EQ(model->scalar_constant("h"), 1.5);
}

TEST(OnnxModelFileTest, NegativeDimensionIsInvalid) {
    // initializer with dims: -1 (10-byte varint).
    const std::vector<uint8_t> tensor = {0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                         0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    std::vector<uint8_t> graph = {0x2A, static_cast<uint8_t>(tensor.size())};
    graph.insert(graph.end(), tensor.begin(), tensor.end());
    std::vector<uint8_t> bytes = {0x3A, static_cast<uint8_t>(graph.size())};
    bytes.insert(bytes.end(), graph.begin(), graph.end());

    auto model = read_onnx_model(bytes);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::INVALID_MODEL);
}

}  // namespace
}  // namespace corun::onnx
