// A program linked with corun_runtime_core alone, as an application that never sets
// multi_process_service may be: it runs models in-process, links neither gRPC nor protobuf
// (tests/check_links_no_grpc.py looks at this binary), and asking it for corund fails with a
// message naming the library to link instead.
#include <gtest/gtest.h>

#include <vector>

#include "corun/corun.hpp"

namespace corun {
namespace {

const std::string ADD_ONE = std::string(CORUN_TEST_MODEL_DIR) + "/add_one.onnx";

TEST(InProcessOnly, RunsAModelWithoutTheRemoteBackend) {
    auto vdevice = VDevice::create();
    ASSERT_TRUE(vdevice) << vdevice.status().to_string();
    auto model = (*vdevice)->create_infer_model(ADD_ONE);
    ASSERT_TRUE(model) << model.status().to_string();
    auto configured = (*model)->configure();
    ASSERT_TRUE(configured) << configured.status().to_string();
    auto input = (*model)->input();
    auto output = (*model)->output();
    ASSERT_TRUE(input && output);
    std::vector<float> in(input->get_frame_size() / sizeof(float));
    std::vector<float> out(output->get_frame_size() / sizeof(float));
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
    auto bindings = configured->create_bindings(
        {{input->name(), MemoryView::of(in)}, {output->name(), MemoryView::of(out)}});
    ASSERT_TRUE(bindings) << bindings.status().to_string();
    ASSERT_TRUE(configured->run(*bindings, std::chrono::seconds(60)).is_ok());
    for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], static_cast<float>(i) + 1.0f);
}

TEST(InProcessOnly, AskingForCorundNamesTheLibraryToLink) {
    VDeviceParams params;
    params.multi_process_service = true;
    params.service_socket = "/nonexistent/corund.sock";
    auto vdevice = VDevice::create(params);
    ASSERT_FALSE(vdevice);
    EXPECT_EQ(vdevice.status().code(), StatusCode::NOT_SUPPORTED);
    EXPECT_NE(vdevice.status().message().find("link corun_runtime"), std::string::npos)
        << vdevice.status().message();
}

}  // namespace
}  // namespace corun
