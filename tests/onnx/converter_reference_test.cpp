// The TF.js -> ONNX converter (tools/convert/tfjs_to_onnx.py), checked through corun itself:
// each converted model runs on the deterministic input that make_reference.mjs fed the
// original TF.js model, and its outputs must match the committed reference samples and
// statistics (tests/data/converter/NAME.json) to 1e-4 * max(1, |ref|), as
// tools/convert/check_converted.mjs checks them with ONNX Runtime in Node.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

constexpr double kTolerance = 1e-4;
constexpr auto kTimeout = std::chrono::milliseconds(60000);

// Where scripts/fetch_models.sh writes the converted models (models/manifest.json, "converted").
std::string converted_model_path(const std::string& name) {
    return std::string(CORUN_CACHE_DIR) + "/models/" + name + "/" + name + ".onnx";
}

std::string reference_path(const std::string& name) {
    return std::string(CORUN_SOURCE_DIR) + "/tests/data/converter/" + name + ".json";
}

// make_reference.mjs: x[i] = ((i * 7919) % 256) / 255 over the flat row-major input,
// computed in double and stored as float32.
std::vector<float> deterministic_input(size_t count) {
    std::vector<float> values(count);
    for (size_t i = 0; i < count; ++i) {
        values[i] = static_cast<float>(
            static_cast<double>((static_cast<uint64_t>(i) * 7919u) % 256u) / 255.0);
    }
    return values;
}

class ConverterReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConverterReferenceTest, MatchesTfjsReference) {
    const std::string name = GetParam();
    const std::string model_path = converted_model_path(name);
    if (!std::filesystem::exists(model_path)) {
        GTEST_SKIP() << "converted model " << model_path
                     << " is missing; run scripts/fetch_models.sh";
    }
    std::ifstream reference_file(reference_path(name));
    ASSERT_TRUE(reference_file) << "cannot open " << reference_path(name);
    const nlohmann::json reference = nlohmann::json::parse(reference_file);

    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(model_path));

    const auto& input_ref = reference.at("input");
    const std::string input_name = input_ref.at("name");
    const std::vector<int64_t> input_shape = input_ref.at("shape");
    ASSERT_OK_AND_ASSIGN(auto input_stream, model->input(input_name));
    EXPECT_EQ(input_stream.native_shape(), input_shape) << "input " << input_name;
    // Feed the tensor exactly as the model lays it out: no conversion by corun.
    input_stream.set_format_type(FormatType::FLOAT32);
    input_stream.set_format_order(input_stream.native_format().order);
    for (auto output : model->outputs()) output.set_format_type(FormatType::FLOAT32);  // a handle

    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());

    size_t input_count = 1;
    for (int64_t dim : input_shape) input_count *= static_cast<size_t>(dim);
    std::vector<float> input = deterministic_input(input_count);
    ASSERT_OK_AND_ASSIGN(auto input_binding, bindings.input(input_name));
    ASSERT_OK(input_binding.set_buffer(MemoryView::of(input)));

    std::map<std::string, std::vector<float>> outputs;
    for (const auto& output_ref : reference.at("outputs")) {
        const std::string output_name = output_ref.at("name");
        ASSERT_OK_AND_ASSIGN(auto stream, model->output(output_name));
        const std::vector<int64_t> shape = output_ref.at("shape");
        EXPECT_EQ(stream.native_shape(), shape) << "output " << output_name;
        auto& buffer = outputs[output_name];
        buffer.resize(output_ref.at("count").get<size_t>());
        ASSERT_OK_AND_ASSIGN(auto binding, bindings.output(output_name));
        ASSERT_OK(binding.set_buffer(MemoryView::of(buffer)));
    }
    ASSERT_OK(configured.run(bindings, kTimeout));

    for (const auto& output_ref : reference.at("outputs")) {
        const std::string output_name = output_ref.at("name");
        const std::vector<float>& values = outputs.at(output_name);
        SCOPED_TRACE(name + "/" + output_name);

        const size_t offset = output_ref.at("sample_offset");
        const size_t stride = output_ref.at("sample_stride");
        const std::vector<double> sample = output_ref.at("sample");
        ASSERT_FALSE(sample.empty());
        double max_relative_error = 0;
        size_t worst_index = 0;
        for (size_t k = 0; k < sample.size(); ++k) {
            const size_t index = offset + k * stride;
            ASSERT_LT(index, values.size());
            const double error =
                std::abs(values[index] - sample[k]) / std::max(1.0, std::abs(sample[k]));
            if (error > max_relative_error) {
                max_relative_error = error;
                worst_index = index;
            }
        }
        EXPECT_LE(max_relative_error, kTolerance)
            << "worst at flat index " << worst_index << ": got " << values[worst_index];

        double sum = 0, squares = 0, minimum = values.front(), maximum = values.front();
        for (float value : values) {
            sum += value;
            squares += static_cast<double>(value) * value;
            minimum = std::min(minimum, static_cast<double>(value));
            maximum = std::max(maximum, static_cast<double>(value));
        }
        const double mean = sum / static_cast<double>(values.size());
        const double reference_mean = output_ref.at("mean");
        const double reference_l2 = output_ref.at("l2");
        const double reference_min = output_ref.at("min");
        const double reference_max = output_ref.at("max");
        EXPECT_LE(std::abs(mean - reference_mean),
                  kTolerance * std::max(1.0, std::abs(reference_mean)));
        EXPECT_LE(std::abs(std::sqrt(squares) - reference_l2) / std::max(1.0, reference_l2),
                  kTolerance);
        EXPECT_LE(std::abs(minimum - reference_min),
                  kTolerance * std::max(1.0, std::abs(reference_min)));
        EXPECT_LE(std::abs(maximum - reference_max),
                  kTolerance * std::max(1.0, std::abs(reference_max)));
    }
}

INSTANTIATE_TEST_SUITE_P(ConvertedModels, ConverterReferenceTest,
                         ::testing::Values("nanodet", "mobilefacenet", "emotion"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             return info.param;
                         });

}  // namespace
}  // namespace corun
