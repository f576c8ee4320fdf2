// Pix buffers (issue 14): YUV 4:2:0 camera frames bound with set_pix_buffer become the input's
// frame: exact RGB values for hand-computed colours, the same bytes as OpenCV's cvtColor on a
// real photo for NV12, NV21 and I420 (planes one by one or in one piece), conversion to the
// stream's type and order, the converted frame's lifetime, and clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "corun/corun.hpp"
#include "runtime/pix_conversion.hpp"
#include "test_support.hpp"

namespace corun::test {
namespace {

// A frame's Y, U and V planes (I420 order) and how each layout lays them out.
struct Yuv420 {
    size_t height, width;
    std::vector<uint8_t> y, u, v;

    std::vector<uint8_t> interleaved(bool u_first) const {
        std::vector<uint8_t> pairs;
        for (size_t i = 0; i < u.size(); ++i) {
            pairs.push_back(u_first ? u[i] : v[i]);
            pairs.push_back(u_first ? v[i] : u[i]);
        }
        return pairs;
    }
    // One contiguous plane in `layout`.
    std::vector<uint8_t> packed(PixelLayout layout) const {
        std::vector<uint8_t> bytes = y;
        if (layout == PixelLayout::I420) {
            bytes.insert(bytes.end(), u.begin(), u.end());
            bytes.insert(bytes.end(), v.begin(), v.end());
        } else {
            const auto pairs = interleaved(layout == PixelLayout::NV12);
            bytes.insert(bytes.end(), pairs.begin(), pairs.end());
        }
        return bytes;
    }
};

// A uniform colour.
Yuv420 uniform(size_t height, size_t width, uint8_t y, uint8_t u, uint8_t v) {
    return {height, width, std::vector<uint8_t>(height * width, y),
            std::vector<uint8_t>(height * width / 4, u),
            std::vector<uint8_t>(height * width / 4, v)};
}

// darknet's dog as I420, through OpenCV (its RGB -> YUV is not what is under test).
Yuv420 photo(int height, int width) {
    const std::string path = std::string(CORUN_CACHE_DIR) + "/data/darknet/dog.jpg";
    cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
    cv::Mat resized, i420;
    cv::resize(image, resized, cv::Size(width, height), 0, 0, cv::INTER_AREA);
    cv::cvtColor(resized, i420, cv::COLOR_BGR2YUV_I420);
    const size_t luma = size_t(height) * width, chroma = luma / 4;
    const uint8_t* p = i420.ptr<uint8_t>();
    return {size_t(height),
            size_t(width),
            {p, p + luma},
            {p + luma, p + luma + chroma},
            {p + luma + chroma, p + luma + 2 * chroma}};
}

std::vector<uint8_t> rgb_of(const PixBuffer& pix, size_t height, size_t width) {
    std::vector<uint8_t> rgb(height * width * 3);
    EXPECT_TRUE(runtime::check_pix_buffer(pix, height, width).is_ok());
    runtime::pix_buffer_to_rgb(pix, height, width, rgb.data());
    return rgb;
}

TEST(PixConversionTest, HandComputedColoursInBt601LimitedRange) {
    struct Case {
        uint8_t y, u, v;
        std::vector<uint8_t> rgb;
    };
    // Black and white at the range's ends; BT.601's red, green and blue, computed by hand in
    // the fixed-point formula (red: R = (65 * 1220542 + 112 * 1673527 + 2^19) >> 20 = 254).
    const std::vector<Case> cases = {
        {16, 128, 128, {0, 0, 0}},       {235, 128, 128, {255, 255, 255}},
        {81, 90, 240, {254, 0, 0}},      {145, 54, 34, {0, 255, 1}},
        {41, 240, 110, {0, 0, 255}},     {0, 128, 128, {0, 0, 0}},
        {126, 128, 128, {128, 128, 128}}};
    for (const auto& c : cases) {
        const Yuv420 frame = uniform(2, 2, c.y, c.u, c.v);
        const auto pairs = frame.interleaved(true);
        const auto rgb =
            rgb_of({PixelLayout::NV12, {{frame.y.data(), 4}, {pairs.data(), 2}}}, 2, 2);
        for (size_t pixel = 0; pixel < 4; ++pixel) {
            EXPECT_EQ(std::vector<uint8_t>(rgb.begin() + pixel * 3, rgb.begin() + pixel * 3 + 3),
                      c.rgb)
                << "Y " << int(c.y) << " U " << int(c.u) << " V " << int(c.v);
        }
    }
}

TEST(PixConversionTest, EveryLayoutEqualsOpenCvOnARealPhoto) {
    const std::string path = std::string(CORUN_CACHE_DIR) + "/data/darknet/dog.jpg";
    if (!std::filesystem::exists(path))
        GTEST_SKIP() << path << " is missing; run scripts/fetch_models.sh";
    const int height = 96, width = 130;  // not square, width not a multiple of 16
    const Yuv420 frame = photo(height, width);
    const std::vector<std::pair<PixelLayout, int>> layouts = {
        {PixelLayout::NV12, cv::COLOR_YUV2RGB_NV12},
        {PixelLayout::NV21, cv::COLOR_YUV2RGB_NV21},
        {PixelLayout::I420, cv::COLOR_YUV2RGB_I420}};
    for (const auto& [layout, code] : layouts) {
        std::vector<uint8_t> packed = frame.packed(layout);
        cv::Mat expected;
        cv::cvtColor(cv::Mat(height * 3 / 2, width, CV_8UC1, packed.data()), expected, code);
        const std::vector<uint8_t> expected_bytes(expected.ptr<uint8_t>(),
                                                  expected.ptr<uint8_t>() + expected.total() * 3);
        // One contiguous plane, and the planes one by one.
        EXPECT_EQ(rgb_of({layout, {{packed.data(), packed.size()}}}, height, width), expected_bytes)
            << pixel_layout_name(layout);
        const size_t luma = frame.y.size();
        PixBuffer planes{layout, {{packed.data(), luma}}};
        if (layout == PixelLayout::I420) {
            planes.planes.push_back({packed.data() + luma, luma / 4});
            planes.planes.push_back({packed.data() + luma * 5 / 4, luma / 4});
        } else {
            planes.planes.push_back({packed.data() + luma, luma / 2});
        }
        EXPECT_EQ(rgb_of(planes, height, width), expected_bytes) << pixel_layout_name(layout);
    }
}

TEST(PixConversionTest, BadPlanesAreRefusedNamingTheExpectedSizes) {
    std::vector<uint8_t> bytes(64 * 64 * 2);
    auto message = [&](const PixBuffer& pix, size_t height, size_t width) {
        const Status status = runtime::check_pix_buffer(pix, height, width);
        EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
        return status.message();
    };
    EXPECT_TRUE(
        contains(message({PixelLayout::NV12, {{bytes.data(), 4096}, {bytes.data(), 1000}}}, 64, 64),
                 "needs plane 1 of 2048 bytes (planes: 4096 + 2048); got 1000 bytes"));
    EXPECT_TRUE(
        contains(message({PixelLayout::I420, {{bytes.data(), 4096}, {bytes.data(), 1024}}}, 64, 64),
                 "has 3 planes (4096 + 1024 + 1024 bytes), or one of 6144 bytes"));
    EXPECT_TRUE(
        contains(message({PixelLayout::NV21, {{nullptr, 6144}}}, 64, 64), "got a null plane"));
    EXPECT_TRUE(contains(message({PixelLayout::NV12, {{bytes.data(), 3 * 65 / 2}}}, 1, 65),
                         "must be even"));
}

// set_pix_buffer on configured models: nhwc_image (FLOAT32 [1,8,8,3], output = 2 x input) and
// conv_nchw (FLOAT32 [1,3,32,32]).
class SetPixBufferTest : public ::testing::Test {
protected:
    void SetUp() override {
        VDeviceParams params;
        params.group_id = unique_group("pix-buffer");
        auto vdevice = VDevice::create(params);
        ASSERT_OK(vdevice);
        vdevice_ = vdevice.release();
    }
    ConfiguredInferModel configure(const std::string& model_name,
                                   FormatType input_type = FormatType::AUTO) {
        auto model = load_test_model(*vdevice_, model_name);
        model->inputs()[0].set_format_type(input_type);
        auto configured = model->configure();
        EXPECT_TRUE(configured.has_value()) << configured.status();
        return configured.release();
    }
    std::unique_ptr<VDevice> vdevice_;
};

TEST_F(SetPixBufferTest, TheModelSeesTheConvertedPixelsInItsOwnTypeAndOrder) {
    // UINT8 user type: the frame bound is the RGB bytes; the model doubles their float values.
    for (auto input_type : {FormatType::UINT8, FormatType::FLOAT32}) {
        auto configured = configure("nhwc_image.onnx", input_type);
        auto bindings = configured.create_bindings();
        ASSERT_OK(bindings);
        const Yuv420 frame = uniform(8, 8, 81, 90, 240);  // red: (254, 0, 0)
        const auto packed = frame.packed(PixelLayout::I420);
        ASSERT_OK(bindings->input()->set_pix_buffer(
            {PixelLayout::I420, {{packed.data(), packed.size()}}}));
        std::vector<float> doubled(8 * 8 * 3);
        ASSERT_OK(bindings->output()->set_buffer(MemoryView::of(doubled)));
        ASSERT_OK(configured.run(*bindings, std::chrono::seconds(30)));
        for (size_t i = 0; i < doubled.size(); ++i) {
            ASSERT_EQ(doubled[i], i % 3 == 0 ? 508.0f : 0.0f) << i;
        }
    }
}

TEST_F(SetPixBufferTest, AnNchwInputGetsThePlanarFrameSetBufferWouldTake) {
    const std::string path = std::string(CORUN_CACHE_DIR) + "/data/darknet/dog.jpg";
    if (!std::filesystem::exists(path))
        GTEST_SKIP() << path << " is missing; run scripts/fetch_models.sh";
    auto configured = configure("conv_nchw.onnx");
    const Yuv420 frame = photo(32, 32);
    auto pairs = frame.interleaved(true);
    const PixBuffer pix{PixelLayout::NV12,
                        {{frame.y.data(), frame.y.size()}, {pairs.data(), pairs.size()}}};
    // The same frame by hand: RGB, as planes of floats.
    const auto rgb = rgb_of(pix, 32, 32);
    std::vector<float> planar(3 * 32 * 32);
    for (size_t pixel = 0; pixel < 32 * 32; ++pixel) {
        for (size_t channel = 0; channel < 3; ++channel)
            planar[channel * 1024 + pixel] = rgb[pixel * 3 + channel];
    }
    std::vector<float> from_pix(8 * 32 * 32), from_buffer(8 * 32 * 32);
    auto pix_bindings = configured.create_bindings();
    auto buffer_bindings = configured.create_bindings();
    ASSERT_OK(pix_bindings->input()->set_pix_buffer(pix));
    ASSERT_OK(pix_bindings->output()->set_buffer(MemoryView::of(from_pix)));
    ASSERT_OK(buffer_bindings->input()->set_buffer(MemoryView::of(planar)));
    ASSERT_OK(buffer_bindings->output()->set_buffer(MemoryView::of(from_buffer)));
    ASSERT_OK(configured.run(*pix_bindings, std::chrono::seconds(30)));
    ASSERT_OK(configured.run(*buffer_bindings, std::chrono::seconds(30)));
    EXPECT_EQ(from_pix, from_buffer);
    // UINT8 NCHW takes the general conversion (FLOAT32 has a path of its own): same frame.
    auto as_bytes = configure("conv_nchw.onnx", FormatType::UINT8);
    auto byte_bindings = as_bytes.create_bindings();
    std::vector<float> from_bytes(8 * 32 * 32);
    ASSERT_OK(byte_bindings->input()->set_pix_buffer(pix));
    ASSERT_OK(byte_bindings->output()->set_buffer(MemoryView::of(from_bytes)));
    ASSERT_OK(as_bytes.run(*byte_bindings, std::chrono::seconds(30)));
    EXPECT_EQ(from_bytes, from_buffer);
    // get_buffer shows the converted frame.
    auto bound = pix_bindings->input()->get_buffer();
    ASSERT_OK(bound);
    ASSERT_EQ(bound->size, planar.size() * sizeof(float));
    EXPECT_EQ(std::memcmp(bound->data, planar.data(), bound->size), 0);
}

TEST_F(SetPixBufferTest, PlanesMayBeReusedAtOnceAndTheFrameOutlivesTheBindingsThatMadeIt) {
    auto configured = configure("nhwc_image.onnx");
    std::vector<float> doubled(8 * 8 * 3);
    AsyncInferJob job;
    {
        auto bindings = configured.create_bindings();
        std::vector<uint8_t> packed =
            uniform(8, 8, 235, 128, 128).packed(PixelLayout::NV12);  // white
        ASSERT_OK(bindings->input()->set_pix_buffer(
            {PixelLayout::NV12, {{packed.data(), packed.size()}}}));
        std::fill(packed.begin(), packed.end(), 16);  // read already: black now changes nothing
        ASSERT_OK(bindings->output()->set_buffer(MemoryView::of(doubled)));
        auto queued = configured.run_async(*bindings);
        ASSERT_OK(queued);
        job = queued.release();
    }  // the bindings are gone; the job holds the converted frame
    ASSERT_OK(job.wait(std::chrono::seconds(30)));
    EXPECT_EQ(doubled, std::vector<float>(8 * 8 * 3, 510.0f));
}

TEST_F(SetPixBufferTest, StreamsThatAreNotImageInputsSayWhy) {
    auto image = configure("nhwc_image.onnx");
    auto bindings = image.create_bindings();
    std::vector<uint8_t> packed = uniform(8, 8, 16, 128, 128).packed(PixelLayout::NV12);
    const PixBuffer pix{PixelLayout::NV12, {{packed.data(), packed.size()}}};
    const Status on_output = bindings->output()->set_pix_buffer(pix);
    EXPECT_EQ(on_output.code(), StatusCode::INVALID_OPERATION);
    EXPECT_TRUE(contains(on_output.message(), "output 'doubled'")) << on_output;
    EXPECT_TRUE(contains(on_output.message(), "is not an image input")) << on_output;

    auto flat = configure("int64_tokens.onnx");
    auto flat_bindings = flat.create_bindings();
    EXPECT_EQ(flat_bindings->input()->set_pix_buffer(pix).code(), StatusCode::INVALID_OPERATION);

    const Status too_small =
        bindings->input()->set_pix_buffer({PixelLayout::NV12, {{packed.data(), 10}}});
    EXPECT_EQ(too_small.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(too_small.message(), "input 'image': set_pix_buffer: a NV12 frame of 8x8"))
        << too_small;
}

}  // namespace
}  // namespace corun::test
