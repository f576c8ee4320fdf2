/**
 * In the style of HailoRT's multi_process_example, against corun's compatibility header: a
 * VDevice created with multi_process_service and a shared group_id, so that the model runs in
 * the service (corund, on the socket $CORUN_SERVICE_SOCKET names) and shares its scheduler with
 * every other process of the group. Frames are read from a file and run one by one with run();
 * their outputs are written to a file, so that the test can check them.
 *
 * usage: multi_process_example MODEL.onnx FRAMES.bin OUTPUT.bin FRAME_COUNT
 **/

#include "hailo/hailort.hpp"

#include <iostream>

#include "example_io.hpp"

constexpr uint32_t DEVICE_COUNT = 1;

using namespace hailort;

Expected<std::unique_ptr<VDevice>> create_vdevice() {
    hailo_vdevice_params_t params;
    auto status = hailo_init_vdevice_params(&params);
    if (HAILO_SUCCESS != status) {
        std::cerr << "Failed init vdevice_params, status = " << status << std::endl;
        return make_unexpected(status);
    }
    params.device_count = DEVICE_COUNT;
    params.multi_process_service = true;
    params.group_id = "SHARED";

    return VDevice::create(params);
}

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: " << argv[0] << " MODEL.onnx FRAMES.bin OUTPUT.bin FRAME_COUNT"
                  << std::endl;
        return HAILO_INVALID_ARGUMENT;
    }
    const uint32_t frame_count = static_cast<uint32_t>(std::stoul(argv[4]));
    example_io::InputFrames input_frames(argv[2]);

    auto vdevice = create_vdevice();
    if (!vdevice) {
        std::cerr << "Failed create vdevice, status = " << vdevice.status() << std::endl;
        return vdevice.status();
    }

    auto infer_model = vdevice.value()->create_infer_model(argv[1]);
    if (!infer_model) {
        std::cerr << "Failed to create infer model, status = " << infer_model.status() << std::endl;
        return infer_model.status();
    }
    auto configured_infer_model = infer_model.value()->configure();
    if (!configured_infer_model) {
        std::cerr << "Failed to configure the infer model, status = "
                  << configured_infer_model.status() << std::endl;
        return configured_infer_model.status();
    }
    auto bindings = configured_infer_model->create_bindings();
    if (!bindings) {
        std::cerr << "Failed to create infer bindings, status = " << bindings.status() << std::endl;
        return bindings.status();
    }

    const size_t input_frame_size = infer_model.value()->input()->get_frame_size();
    auto input_buffer = page_aligned_alloc(input_frame_size);
    std::vector<std::pair<MemoryView, std::shared_ptr<uint8_t>>> outputs;
    for (const auto& output_name : infer_model.value()->get_output_names()) {
        size_t output_frame_size = infer_model.value()->output(output_name)->get_frame_size();
        auto output_buffer = page_aligned_alloc(output_frame_size);
        auto status = bindings->output(output_name)
                          ->set_buffer(MemoryView(output_buffer.get(), output_frame_size));
        if (HAILO_SUCCESS != status) {
            std::cerr << "Failed to set infer output buffer, status = " << status << std::endl;
            return status;
        }
        outputs.emplace_back(MemoryView(output_buffer.get(), output_frame_size), output_buffer);
    }
    auto status = bindings->input()->set_buffer(MemoryView(input_buffer.get(), input_frame_size));
    if (HAILO_SUCCESS != status) {
        std::cerr << "Failed to set infer input buffer, status = " << status << std::endl;
        return status;
    }

    for (uint32_t frame = 0; frame < frame_count; frame++) {
        if (!input_frames.copy_next(input_buffer.get(), input_frame_size)) {
            std::cerr << "The frames file is too short" << std::endl;
            return HAILO_INVALID_ARGUMENT;
        }
        status = configured_infer_model->run(bindings.value(), std::chrono::milliseconds(10000));
        if (HAILO_SUCCESS != status) {
            std::cerr << "Inference failed with status " << status << std::endl;
            return status;
        }
        for (const auto& output : outputs) {
            if (!example_io::append_to_file(argv[3], output.first.data(), output.first.size())) {
                return HAILO_FILE_OPERATION_FAILURE;
            }
        }
    }

    std::cout << "Inference finished successfully on " << frame_count << " frames" << std::endl;
    return HAILO_SUCCESS;
}
