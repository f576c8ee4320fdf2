// Issue 14: programs written for HailoRT's C++ InferModel API (tests/compat/*_example.cpp, built
// against include/corun/compat with -Wall -Wextra -Werror) run as their own processes on real
// zoo models, and each output they write equals, bit for bit, what corun's own API computes for
// the same frame. The multi-process one runs twice at once through a real corund. Skips, saying
// why, without scripts/fetch_models.sh.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "corun/corun.hpp"
#include "hailo/hailort.h"
#include "service/corund_process.hpp"
#include "test_support.hpp"

extern char** environ;

namespace corun::test {
namespace {

namespace fs = std::filesystem;

const std::string BLAZEFACE = std::string(CORUN_CACHE_DIR) +
                              "/models/blazeface-128/face_detection_front_128x128_barracuda.onnx";
const std::string MOBILEFACENET =
    std::string(CORUN_CACHE_DIR) + "/models/mobilefacenet/mobilefacenet.onnx";
const std::string FACE_IMAGE = std::string(CORUN_CACHE_DIR) + "/data/opencv-doc/messi5.jpg";

std::string darknet_image(const std::string& name) {
    return std::string(CORUN_CACHE_DIR) + "/data/darknet/" + name;
}
// Darknet's test photos: distinct frames for the programs that run several.
const std::vector<std::string> PHOTOS = {FACE_IMAGE,
                                         darknet_image("dog.jpg"),
                                         darknet_image("person.jpg"),
                                         darknet_image("horses.jpg"),
                                         darknet_image("eagle.jpg"),
                                         darknet_image("giraffe.jpg")};

// A real photo as an 8-bit RGB frame of size x size.
cv::Mat rgb_frame(int size, const std::string& photo = FACE_IMAGE) {
    cv::Mat image = cv::imread(photo, cv::IMREAD_COLOR);
    cv::Mat resized, rgb;
    cv::resize(image, resized, cv::Size(size, size), 0, 0, cv::INTER_AREA);
    cv::cvtColor(resized, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}
std::vector<uint8_t> float_frame(const cv::Mat& rgb) {
    cv::Mat values;
    rgb.convertTo(values, CV_32FC3, 1.0 / 127.5, -1.0);
    const auto* begin = values.ptr<uint8_t>();
    return std::vector<uint8_t>(begin, begin + values.total() * values.elemSize());
}

// What corun's own API outputs for `input` (every stream's bytes, in order, as the programs
// write them), with the given user format type for every output.
std::vector<uint8_t> native_outputs(const std::string& model_path,
                                    const std::vector<uint8_t>& input,
                                    FormatType output_type = FormatType::AUTO) {
    VDeviceParams params;
    params.group_id = unique_group("compat-native");
    auto vdevice = VDevice::create(params);
    EXPECT_TRUE(vdevice.has_value()) << vdevice.status();
    auto model = (*vdevice)->create_infer_model(model_path);
    EXPECT_TRUE(model.has_value()) << model.status();
    for (const auto& output : (*model)->outputs()) output.set_format_type(output_type);
    auto configured = (*model)->configure();
    EXPECT_TRUE(configured.has_value()) << configured.status();
    auto bindings = configured->create_bindings();
    std::vector<uint8_t> frame = input;
    EXPECT_TRUE(bindings->input()->set_buffer(MemoryView::of(frame)).is_ok());
    std::vector<std::vector<uint8_t>> outputs;
    for (const auto& name : (*model)->get_output_names()) {
        outputs.emplace_back(bindings->output(name)->get_frame_size());
        EXPECT_TRUE(bindings->output(name)->set_buffer(MemoryView::of(outputs.back())).is_ok());
    }
    const Status status = configured->run(*bindings, std::chrono::seconds(60));
    EXPECT_TRUE(status.is_ok()) << status;
    std::vector<uint8_t> all;
    for (const auto& output : outputs) all.insert(all.end(), output.begin(), output.end());
    return all;
}

// Starts a compatibility program; `environment` entries are added to this process's.
pid_t start_program(const std::string& name, std::vector<std::string> args,
                    const std::vector<std::string>& environment = {}) {
    args.insert(args.begin(), std::string(CORUN_COMPAT_PROGRAM_DIR) + "/" + name);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = environment;
    for (char** entry = environ; *entry != nullptr; ++entry) env_strings.emplace_back(*entry);
    std::vector<char*> envp;
    for (auto& entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()) != 0) return -1;
    return pid;
}
int exit_code(pid_t pid) {
    int status = 0;
    if (pid <= 0 || waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
int run_program(const std::string& name, const std::vector<std::string>& args) {
    return exit_code(start_program(name, args));
}

class CompatProgramsTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::vector<std::string> needed = PHOTOS;
        needed.insert(needed.end(), {BLAZEFACE, MOBILEFACENET});
        for (const auto& path : needed) {
            if (!fs::exists(path))
                GTEST_SKIP() << path << " is missing; run scripts/fetch_models.sh";
        }
        char pattern[] = "/tmp/corun-compat-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        directory_ = pattern;
    }
    void TearDown() override {
        std::error_code ignored;
        if (!directory_.empty()) fs::remove_all(directory_, ignored);
    }
    std::string write(const std::string& name, const std::vector<uint8_t>& bytes) {
        const std::string path = directory_ + "/" + name;
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        return path;
    }
    std::string path(const std::string& name) const { return directory_ + "/" + name; }

    std::string directory_;
};

TEST_F(CompatProgramsTest, AsyncInferBasicExampleOutputsWhatCorunsApiDoes) {
    const auto input = float_frame(rgb_frame(128));
    ASSERT_EQ(run_program("async_infer_basic_example",
                          {BLAZEFACE, write("input.bin", input), path("output.bin")}),
              0);
    const auto expected = native_outputs(BLAZEFACE, input);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(read_bytes(path("output.bin")), expected);
}

// Several frames, each a different photo, one after another; and corun's outputs for each.
struct Frames {
    std::vector<uint8_t> input;
    std::vector<uint8_t> expected_outputs;
};
Frames photo_frames(const std::string& model, int size, size_t count) {
    Frames frames;
    for (size_t i = 0; i < count; ++i) {
        const auto frame = float_frame(rgb_frame(size, PHOTOS[i % PHOTOS.size()]));
        const auto outputs = native_outputs(model, frame);
        frames.input.insert(frames.input.end(), frame.begin(), frame.end());
        frames.expected_outputs.insert(frames.expected_outputs.end(), outputs.begin(),
                                       outputs.end());
    }
    return frames;
}

TEST_F(CompatProgramsTest, MultiModelInferenceExampleRunsTwoModelsOnOneVDeviceAsCorunDoes) {
    const auto face_input = float_frame(rgb_frame(128));
    const auto embedding_input = float_frame(rgb_frame(112));
    ASSERT_EQ(run_program(
                  "multi_model_inference_example",
                  {BLAZEFACE, write("faces.bin", face_input), path("faces_out.bin"), MOBILEFACENET,
                   write("embedding.bin", embedding_input), path("embedding_out.bin")}),
              0);
    EXPECT_EQ(read_bytes(path("faces_out.bin")), native_outputs(BLAZEFACE, face_input));
    EXPECT_EQ(read_bytes(path("embedding_out.bin")),
              native_outputs(MOBILEFACENET, embedding_input));
}

TEST_F(CompatProgramsTest, CallbacksExampleGetsEveryFrameInBatchesWithTheSchedulerSettersSet) {
    const size_t frame_count = 6;  // three jobs of BATCH_SIZE 2
    const Frames frames = photo_frames(BLAZEFACE, 128, frame_count);
    ASSERT_EQ(run_program("async_infer_callbacks_example",
                          {BLAZEFACE, write("frames.bin", frames.input), path("outputs.bin"),
                           std::to_string(frame_count)}),
              0);
    EXPECT_EQ(read_bytes(path("outputs.bin")), frames.expected_outputs);
}

TEST_F(CompatProgramsTest, TwoMultiProcessExamplesShareOneCorundAndEachGetsItsOwnResults) {
    CorundProcess corund;
    ASSERT_TRUE(corund.start()) << "corund did not start";
    const size_t frame_count = 4;
    const Frames frames = photo_frames(BLAZEFACE, 128, frame_count);
    const std::string input = write("frames.bin", frames.input);
    const std::vector<std::string> environment = {"CORUN_SERVICE_SOCKET=" + corund.socket()};
    const pid_t first = start_program(
        "multi_process_example", {BLAZEFACE, input, path("first.bin"), std::to_string(frame_count)},
        environment);
    const pid_t second = start_program(
        "multi_process_example",
        {BLAZEFACE, input, path("second.bin"), std::to_string(frame_count)}, environment);
    EXPECT_EQ(exit_code(first), 0);
    EXPECT_EQ(exit_code(second), 0);
    EXPECT_EQ(read_bytes(path("first.bin")), frames.expected_outputs);
    EXPECT_EQ(read_bytes(path("second.bin")), frames.expected_outputs);
}

TEST_F(CompatProgramsTest, MultiProcessExampleWithoutCorundFailsWithRpcFailed) {
    const auto input = float_frame(rgb_frame(128));
    const std::vector<std::string> environment = {"CORUN_SERVICE_SOCKET=" + path("no-corund.sock")};
    const pid_t program =
        start_program("multi_process_example",
                      {BLAZEFACE, write("frame.bin", input), path("out.bin"), "1"}, environment);
    EXPECT_EQ(exit_code(program), HAILO_RPC_FAILED);
}

// An NV12 frame of the photo (OpenCV's RGB -> I420, its U and V planes interleaved), and the
// RGB frame OpenCV decodes from it: what the program's set_pix_buffer must amount to.
struct Nv12Frame {
    std::vector<uint8_t> nv12;
    cv::Mat decoded_rgb;
};
Nv12Frame nv12_frame(int size) {
    cv::Mat i420;
    cv::cvtColor(rgb_frame(size), i420, cv::COLOR_RGB2YUV_I420);
    const size_t luma = size_t(size) * size, chroma = luma / 4;
    const uint8_t* yuv = i420.ptr<uint8_t>();
    Nv12Frame frame;
    frame.nv12.assign(yuv, yuv + luma);
    for (size_t i = 0; i < chroma; ++i) {
        frame.nv12.push_back(yuv[luma + i]);
        frame.nv12.push_back(yuv[luma + chroma + i]);
    }
    cv::Mat nv12(size * 3 / 2, size, CV_8UC1, frame.nv12.data());
    cv::cvtColor(nv12, frame.decoded_rgb, cv::COLOR_YUV2RGB_NV12);
    return frame;
}

TEST_F(CompatProgramsTest, PixBufferExampleRunsAnNv12FrameAsCorunRunsItsRgbDecoding) {
    const Nv12Frame frame = nv12_frame(128);
    ASSERT_EQ(run_program("pix_buffer_example",
                          {BLAZEFACE, write("frame.nv12", frame.nv12), path("out.bin")}),
              0);
    // The model's input is FLOAT32: pixel values 0..255 as they are.
    cv::Mat values;
    frame.decoded_rgb.convertTo(values, CV_32FC3);
    const auto* begin = values.ptr<uint8_t>();
    const std::vector<uint8_t> rgb_input(begin, begin + values.total() * values.elemSize());
    EXPECT_EQ(read_bytes(path("out.bin")), native_outputs(BLAZEFACE, rgb_input));
}

}  // namespace
}  // namespace corun::test
