// Issue 14: the HailoRT compatibility header (include/corun/compat/hailo) call by call, on the
// generated test models: status codes both ways, Expected and hailort_error, stream shapes and
// formats, dequantized FLOAT32 outputs, Bindings shared by copies, pix buffers with the YUV
// layout chosen by set_format_order, DMA calls that are no-ops, the scheduler setters.
#include "hailo/hailort.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace corun::test {
namespace {

using hailort::VDevice;

TEST(CompatStatusTest, EveryCorunCodeHasItsOwnHailoCodeAndMapsBack) {
    std::set<hailo_status> seen;
    for (int code = 0; code <= int(StatusCode::DEADLINE_EXCEEDED); ++code) {
        const hailo_status status = hailort::to_hailo_status(static_cast<StatusCode>(code));
        EXPECT_TRUE(seen.insert(status).second)
            << status_code_name(StatusCode(code)) << " shares " << status;
        EXPECT_EQ(hailort::to_corun_status_code(status), StatusCode(code));
    }
    EXPECT_EQ(hailort::to_hailo_status(StatusCode::TIMEOUT), HAILO_TIMEOUT);
    EXPECT_EQ(int(HAILO_TIMEOUT), 4);
    EXPECT_EQ(hailort::to_hailo_status(StatusCode::NOT_FOUND), HAILO_NOT_FOUND);
    EXPECT_EQ(int(HAILO_NOT_FOUND), 61);
    EXPECT_EQ(hailort::to_hailo_status(StatusCode::QUEUE_IS_FULL), HAILO_QUEUE_IS_FULL);
    EXPECT_EQ(int(HAILO_QUEUE_IS_FULL), 82);
    EXPECT_EQ(hailort::to_hailo_status(StatusCode::INVALID_MODEL), HAILO_INVALID_HEF);
    EXPECT_EQ(hailort::to_corun_status_code(HAILO_DATA_ALIGNMENT_FAILURE),
              StatusCode::INTERNAL_FAILURE);
    std::ostringstream printed;
    printed << HAILO_QUEUE_IS_FULL;
    EXPECT_EQ(printed.str(), "HAILO_QUEUE_IS_FULL(82)");
}

TEST(CompatVDeviceTest, InitParamsAreHailoRtsDefaultsAndAGroupIsShared) {
    hailo_vdevice_params_t params;
    ASSERT_EQ(hailo_init_vdevice_params(&params), HAILO_SUCCESS);
    EXPECT_EQ(params.device_count, 1u);
    EXPECT_EQ(params.device_ids, nullptr);
    EXPECT_EQ(params.scheduling_algorithm, HAILO_SCHEDULING_ALGORITHM_ROUND_ROBIN);
    EXPECT_STREQ(params.group_id, "UNIQUE");
    EXPECT_FALSE(params.multi_process_service);
    EXPECT_EQ(hailo_init_vdevice_params(nullptr), HAILO_INVALID_ARGUMENT);

    const std::string group = unique_group("compat-group");
    params.group_id = group.c_str();
    auto first = VDevice::create(params).expect("first");
    auto second = VDevice::create(params).expect("second");
    EXPECT_TRUE(first->corun_vdevice().shares_devices_with(second->corun_vdevice()));
    EXPECT_EQ(first->corun_vdevice().group_id(), group);
    auto ids = first->get_physical_devices_ids();
    ASSERT_TRUE(ids);
    EXPECT_EQ(*ids, std::vector<std::string>{"cpu:0"});
}

class CompatModelTest : public ::testing::Test {
protected:
    void SetUp() override {
        hailo_vdevice_params_t params;
        hailo_init_vdevice_params(&params);
        group_ = unique_group("compat");
        params.group_id = group_.c_str();
        vdevice_ = VDevice::create(params).expect("vdevice");
    }
    std::shared_ptr<hailort::InferModel> model(const std::string& name) {
        return vdevice_->create_infer_model(test_model(name)).expect("model " + name);
    }
    std::string group_;
    std::unique_ptr<VDevice> vdevice_;
};

TEST_F(CompatModelTest, ExpectThrowsTheStatusWithCorunsMessage) {
    try {
        vdevice_->create_infer_model("/nonexistent/model.onnx")
            .expect("Failed to create infer model");
        FAIL() << "no exception";
    } catch (const hailort::hailort_error& error) {
        EXPECT_NE(error.status(), HAILO_SUCCESS);
        EXPECT_TRUE(contains(error.what(), "Failed to create infer model: ")) << error.what();
        EXPECT_TRUE(contains(error.what(), "/nonexistent/model.onnx")) << error.what();
    }
    auto missing = vdevice_->create_infer_model("/nonexistent/model.onnx");
    EXPECT_FALSE(missing);
    EXPECT_EQ(missing.status(),
              hailort::to_hailo_status(VDevice::create()
                                           .expect("default")
                                           ->corun_vdevice()
                                           .create_infer_model("/nonexistent/model.onnx")
                                           .status()
                                           .code()));
}

TEST_F(CompatModelTest, StreamsReportShapeFormatAndFrameSizeAsHailoRtDoes) {
    auto nhwc = model("nhwc_image.onnx");
    EXPECT_EQ(nhwc->get_input_names(), std::vector<std::string>{"image"});
    EXPECT_EQ(nhwc->get_output_names(), std::vector<std::string>{"doubled"});
    auto input = nhwc->input("image");
    ASSERT_TRUE(input);
    EXPECT_EQ(input->name(), "image");
    const hailo_3d_image_shape_t shape = input->shape();
    EXPECT_EQ(std::vector<uint32_t>({shape.height, shape.width, shape.features}),
              std::vector<uint32_t>({8, 8, 3}));
    EXPECT_EQ(input->format().type, HAILO_FORMAT_TYPE_FLOAT32);
    EXPECT_EQ(input->format().order, HAILO_FORMAT_ORDER_NHWC);
    EXPECT_EQ(input->get_frame_size(), 8u * 8 * 3 * 4);
    input->set_format_type(HAILO_FORMAT_TYPE_UINT8);
    EXPECT_EQ(nhwc->input()->get_frame_size(), 8u * 8 * 3);             // copies are one stream
    input->set_format_order(static_cast<hailo_format_order_t>(3));      // FCR, a device-side order
    EXPECT_EQ(nhwc->input()->format().order, HAILO_FORMAT_ORDER_NHWC);  // logged, left as it was
    input->set_format_order(HAILO_FORMAT_ORDER_NCHW);
    EXPECT_EQ(nhwc->input()->format().order, HAILO_FORMAT_ORDER_NCHW);
    EXPECT_EQ(nhwc->input()->shape().features, 3u);
    EXPECT_EQ(nhwc->inputs().size(), 1u);
    EXPECT_FALSE(nhwc->input()->is_nms());

    auto nchw = model("conv_nchw.onnx")->input();
    ASSERT_TRUE(nchw);
    EXPECT_EQ(nchw->format().order, HAILO_FORMAT_ORDER_NCHW);
    EXPECT_EQ(nchw->shape().height, 32u);
    EXPECT_EQ(nchw->shape().features, 3u);

    EXPECT_EQ(nhwc->input("nope").status(), HAILO_NOT_FOUND);
    EXPECT_EQ(model("two_in_two_out.onnx")->input().status(), HAILO_INVALID_OPERATION);
}

TEST_F(CompatModelTest, Float32OutputOfAQuantizedModelIsDequantized) {
    auto quantized = model("quantized.onnx");
    auto quant = quantized->output()->get_quant_infos();
    ASSERT_EQ(quant.size(), 1u);
    EXPECT_EQ(quant[0].qp_scale, 0.25f);
    EXPECT_EQ(quant[0].qp_zp, 3.0f);
    quantized->input()->set_format_type(HAILO_FORMAT_TYPE_FLOAT32);
    quantized->output()->set_format_type(HAILO_FORMAT_TYPE_FLOAT32);
    auto configured = quantized->configure().expect("configure");
    auto bindings = configured.create_bindings().expect("bindings");
    std::vector<float> input{0, 1, 2, 3}, output(4);
    ASSERT_EQ(bindings.input()->set_buffer(hailort::MemoryView(input.data(), 16)), HAILO_SUCCESS);
    ASSERT_EQ(bindings.output()->set_buffer(hailort::MemoryView(output.data(), 16)), HAILO_SUCCESS);
    ASSERT_EQ(configured.run(bindings, std::chrono::seconds(30)), HAILO_SUCCESS);
    EXPECT_EQ(output, std::vector<float>({0, 2, 4, 6}));
}

TEST_F(CompatModelTest, BindingsCopiesShareTheirBuffersAndBadSizesAreRefused) {
    auto configured = model("nhwc_image.onnx")->configure().expect("configure");
    auto bindings = configured.create_bindings().expect("bindings");
    std::vector<float> frame(8 * 8 * 3);
    auto copy = bindings;
    ASSERT_EQ(copy.input()->set_buffer(hailort::MemoryView(frame.data(), frame.size() * 4)),
              HAILO_SUCCESS);
    auto seen = bindings.input()->get_buffer();
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->data(), reinterpret_cast<uint8_t*>(frame.data()));
    EXPECT_EQ(bindings.input()->set_buffer(hailort::MemoryView(frame.data(), 100)),
              HAILO_INVALID_ARGUMENT);
    EXPECT_EQ(bindings.output("nope").status(), HAILO_NOT_FOUND);
}

// nhwc_image doubles its input: the output shows the pixels the pix buffer became.
std::vector<float> doubled_pixels(hailort::ConfiguredInferModel& configured,
                                  hailort::ConfiguredInferModel::Bindings& bindings) {
    std::vector<float> output(8 * 8 * 3);
    EXPECT_EQ(bindings.output()->set_buffer(hailort::MemoryView(output.data(), output.size() * 4)),
              HAILO_SUCCESS);
    EXPECT_EQ(configured.run(bindings, std::chrono::seconds(30)), HAILO_SUCCESS);
    return output;
}
std::vector<float> red_doubled() {  // BT.601 red (Y 81, U 90, V 240) is RGB (254, 0, 0)
    std::vector<float> values(8 * 8 * 3, 0.0f);
    for (size_t i = 0; i < values.size(); i += 3) values[i] = 508.0f;
    return values;
}

TEST_F(CompatModelTest, AnInputSetToNv12TakesItsYuvFrameSizeAsOneBufferOrAsPlanes) {
    auto nhwc = model("nhwc_image.onnx");
    nhwc->input()->set_format_order(HAILO_FORMAT_ORDER_NV12);
    EXPECT_EQ(nhwc->input()->get_frame_size(), 8u * 8 * 3 / 2);
    EXPECT_EQ(nhwc->input()->format().order, HAILO_FORMAT_ORDER_NV12);
    auto configured = nhwc->configure().expect("configure");

    std::vector<uint8_t> nv12(64, 81);
    for (int i = 0; i < 16; ++i) nv12.insert(nv12.end(), {90, 240});
    auto packed = configured.create_bindings().expect("bindings");
    ASSERT_EQ(packed.input()->set_buffer(hailort::MemoryView(nv12.data(), nv12.size())),
              HAILO_SUCCESS);
    EXPECT_EQ(doubled_pixels(configured, packed), red_doubled());

    hailo_pix_buffer_t pix{};
    pix.memory_type = HAILO_PIX_BUFFER_MEMORY_TYPE_USERPTR;
    pix.number_of_planes = 2;
    pix.planes[0].bytes_used = pix.planes[0].plane_size = 64;
    pix.planes[0].user_ptr = nv12.data();
    pix.planes[1].bytes_used = pix.planes[1].plane_size = 32;
    pix.planes[1].user_ptr = nv12.data() + 64;
    auto planar = configured.create_bindings().expect("bindings");
    ASSERT_EQ(planar.input()->set_pix_buffer(pix), HAILO_SUCCESS);
    EXPECT_EQ(doubled_pixels(configured, planar), red_doubled());
    auto kept = planar.input()->get_pix_buffer();
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->planes[1].user_ptr, nv12.data() + 64);
    EXPECT_EQ(planar.input()->get_buffer().status(), HAILO_INVALID_OPERATION);
}

TEST_F(CompatModelTest, WithoutAnOrderPlanesCountSaysNv12OrI420AndOnePlaneIsTheFrameItself) {
    auto nhwc = model("nhwc_image.onnx");
    nhwc->input()->set_format_type(HAILO_FORMAT_TYPE_UINT8);
    auto configured = nhwc->configure().expect("configure");
    std::vector<uint8_t> y(64, 81), u(16, 90), v(16, 240);
    hailo_pix_buffer_t i420{};
    i420.number_of_planes = 3;
    uint8_t* planes[] = {y.data(), u.data(), v.data()};
    for (int p = 0; p < 3; ++p) {
        i420.planes[p].bytes_used = i420.planes[p].plane_size = p == 0 ? 64 : 16;
        i420.planes[p].user_ptr = planes[p];
    }
    auto bindings = configured.create_bindings().expect("bindings");
    ASSERT_EQ(bindings.input()->set_pix_buffer(i420), HAILO_SUCCESS);
    EXPECT_EQ(doubled_pixels(configured, bindings), red_doubled());

    std::vector<uint8_t> rgb(8 * 8 * 3, 0);
    for (size_t i = 0; i < rgb.size(); i += 3) rgb[i] = 254;
    hailo_pix_buffer_t packed{};
    packed.number_of_planes = 1;
    packed.planes[0].bytes_used = packed.planes[0].plane_size = uint32_t(rgb.size());
    packed.planes[0].user_ptr = rgb.data();
    ASSERT_EQ(bindings.input()->set_pix_buffer(packed), HAILO_SUCCESS);
    EXPECT_EQ(doubled_pixels(configured, bindings), red_doubled());

    hailo_pix_buffer_t dma = packed;
    dma.memory_type = HAILO_PIX_BUFFER_MEMORY_TYPE_DMABUF;
    EXPECT_EQ(bindings.input()->set_pix_buffer(dma), HAILO_NOT_SUPPORTED);
    EXPECT_EQ(bindings.input()->set_dma_buffer({3, 192}), HAILO_NOT_SUPPORTED);
    EXPECT_EQ(bindings.output()->set_pix_buffer(i420), HAILO_INVALID_OPERATION);
}

TEST_F(CompatModelTest, DmaMappingIsANoOpThatKeepsTheBuffer) {
    std::vector<uint8_t> buffer(4096);
    auto mapped = hailort::DmaMappedBuffer::create(*vdevice_, buffer.data(), buffer.size(),
                                                   HAILO_DMA_BUFFER_DIRECTION_H2D);
    ASSERT_TRUE(mapped);
    EXPECT_EQ(mapped->user_address(), buffer.data());
    EXPECT_EQ(mapped->size(), 4096u);
    EXPECT_EQ(
        hailort::DmaMappedBuffer::create(*vdevice_, nullptr, 0, HAILO_DMA_BUFFER_DIRECTION_D2H)
            .status(),
        HAILO_INVALID_ARGUMENT);
    EXPECT_EQ(vdevice_->dma_map(buffer.data(), buffer.size(), HAILO_DMA_BUFFER_DIRECTION_BOTH),
              HAILO_SUCCESS);
    EXPECT_EQ(vdevice_->dma_unmap(buffer.data(), buffer.size(), HAILO_DMA_BUFFER_DIRECTION_BOTH),
              HAILO_SUCCESS);
}

TEST_F(CompatModelTest, SchedulerSettersQueueSizeAndShutdown) {
    auto configured = model("add_one.onnx")->configure().expect("configure");
    EXPECT_EQ(configured.set_scheduler_priority(HAILO_SCHEDULER_PRIORITY_MAX), HAILO_SUCCESS);
    EXPECT_EQ(configured.set_scheduler_priority(HAILO_SCHEDULER_PRIORITY_MAX + 1),
              HAILO_INVALID_ARGUMENT);
    EXPECT_EQ(configured.set_scheduler_threshold(2), HAILO_SUCCESS);
    EXPECT_EQ(configured.set_scheduler_timeout(std::chrono::milliseconds(5)), HAILO_SUCCESS);
    auto queue = configured.get_async_queue_size();
    ASSERT_TRUE(queue);
    EXPECT_EQ(*queue, 2u);
    EXPECT_EQ(configured.wait_for_async_ready(std::chrono::milliseconds(0), 3),
              HAILO_INVALID_ARGUMENT);

    auto bindings = configured.create_bindings().expect("bindings");
    std::vector<float> input(48, 1.0f), output(48);
    ASSERT_EQ(bindings.input()->set_buffer(hailort::MemoryView(input.data(), 192)), HAILO_SUCCESS);
    ASSERT_EQ(bindings.output()->set_buffer(hailort::MemoryView(output.data(), 192)),
              HAILO_SUCCESS);
    hailo_status seen = HAILO_UNINITIALIZED;
    auto job = configured.run_async(
        bindings, [&](const hailort::AsyncInferCompletionInfo& info) { seen = info.status; });
    ASSERT_TRUE(job);
    ASSERT_EQ(job->wait(std::chrono::seconds(30)), HAILO_SUCCESS);
    EXPECT_EQ(seen, HAILO_SUCCESS);
    EXPECT_EQ(output, std::vector<float>(48, 2.0f));

    EXPECT_EQ(configured.shutdown(), HAILO_SUCCESS);
    EXPECT_EQ(configured.run_async(bindings).status(), HAILO_SHUTDOWN_EVENT_SIGNALED);

    hailo_vdevice_params_t params;
    hailo_init_vdevice_params(&params);
    const std::string group = unique_group("compat-none");
    params.group_id = group.c_str();
    params.scheduling_algorithm = HAILO_SCHEDULING_ALGORITHM_NONE;
    auto unscheduled = VDevice::create(params).expect("vdevice");
    auto plain = unscheduled->create_infer_model(test_model("add_one.onnx"))
                     .expect("model")
                     ->configure()
                     .expect("c");
    EXPECT_EQ(plain.set_scheduler_priority(HAILO_SCHEDULER_PRIORITY_NORMAL),
              HAILO_INVALID_OPERATION);
}

TEST_F(CompatModelTest, DefaultConstructedObjectsSayTheyHoldNothingInsteadOfCrashing) {
    hailort::ConfiguredInferModel unconfigured;
    EXPECT_EQ(unconfigured.create_bindings().status(), HAILO_INVALID_OPERATION);
    EXPECT_EQ(unconfigured.wait_for_async_ready(std::chrono::milliseconds(1)),
              HAILO_INVALID_OPERATION);
    EXPECT_EQ(unconfigured.get_async_queue_size().status(), HAILO_INVALID_OPERATION);
    EXPECT_EQ(unconfigured.shutdown(), HAILO_INVALID_OPERATION);
    hailort::ConfiguredInferModel::Bindings unbound;
    EXPECT_EQ(unbound.input().status(), HAILO_INVALID_OPERATION);
    auto configured = model("add_one.onnx")->configure().expect("configure");
    EXPECT_EQ(configured.run(unbound, std::chrono::seconds(1)), HAILO_INVALID_OPERATION);
    EXPECT_EQ(configured.run_async(unbound).status(), HAILO_INVALID_OPERATION);
    hailort::AsyncInferJob no_job;
    EXPECT_EQ(no_job.wait(std::chrono::milliseconds(1)), HAILO_INVALID_OPERATION);
}

TEST_F(CompatModelTest, AModelFromBytesRunsAsFromItsFile) {
    auto bytes = read_bytes(test_model("add_one.onnx"));
    auto from_bytes =
        vdevice_->create_infer_model(hailort::MemoryView(bytes.data(), bytes.size()), "add_one");
    ASSERT_TRUE(from_bytes);
    EXPECT_EQ((*from_bytes)->get_input_names(), std::vector<std::string>{"x"});
}

}  // namespace
}  // namespace corun::test
