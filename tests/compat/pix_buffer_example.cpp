/**
 * In the style of HailoRT's async_infer_advanced_example (its multi-planar NV12 input), against
 * corun's compatibility header. One line differs: an ONNX model takes RGB, so the program says
 * that its input frames come as NV12 with set_format_order(HAILO_FORMAT_ORDER_NV12), where a
 * HEF compiled for NV12 says it itself. The frame (Y plane, then the UV plane) is read from a
 * file and the outputs written to one, so that the test can check them.
 *
 * usage: pix_buffer_example MODEL.onnx FRAME.nv12 OUTPUT.bin
 **/

#include "hailo/hailort.hpp"

#include <cassert>
#include <iostream>
#include <unordered_map>

#include "example_io.hpp"

using namespace hailort;

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " MODEL.onnx FRAME.nv12 OUTPUT.bin" << std::endl;
        return HAILO_INVALID_ARGUMENT;
    }
    example_io::InputFrames input_frames(argv[2]);

    auto vdevice = VDevice::create();
    if (!vdevice) {
        std::cerr << "Failed create vdevice, status = " << vdevice.status() << std::endl;
        return vdevice.status();
    }

    auto infer_model_exp = vdevice.value()->create_infer_model(argv[1]);
    if (!infer_model_exp) {
        std::cerr << "Failed to create infer model, status = " << infer_model_exp.status()
                  << std::endl;
        return infer_model_exp.status();
    }
    auto infer_model = infer_model_exp.release();
    infer_model->input()->set_format_order(HAILO_FORMAT_ORDER_NV12);  // corun: what the HEF says

    auto configured_infer_model = infer_model->configure();
    if (!configured_infer_model) {
        std::cerr << "Failed to create configured infer model, status = "
                  << configured_infer_model.status() << std::endl;
        return configured_infer_model.status();
    }

    std::vector<std::shared_ptr<uint8_t>> buffer_guards;

    // Create input buffers.
    std::unordered_map<std::string, hailo_pix_buffer_t> input_buffers;
    for (const auto& input_name : infer_model->get_input_names()) {
        size_t input_frame_size = infer_model->input(input_name)->get_frame_size();

        // create pix_buffer
        const auto Y_PLANE_SIZE = static_cast<uint32_t>(input_frame_size * 2 / 3);
        const auto UV_PLANE_SIZE = static_cast<uint32_t>(input_frame_size * 1 / 3);
        assert(Y_PLANE_SIZE + UV_PLANE_SIZE == input_frame_size);
        auto y_plane_buffer = page_aligned_alloc(Y_PLANE_SIZE);
        auto uv_plane_buffer = page_aligned_alloc(UV_PLANE_SIZE);
        if (!input_frames.copy_next(y_plane_buffer.get(), Y_PLANE_SIZE) ||
            !input_frames.copy_next(uv_plane_buffer.get(), UV_PLANE_SIZE)) {
            std::cerr << "The frame file is too short" << std::endl;
            return HAILO_INVALID_ARGUMENT;
        }
        hailo_pix_buffer_t pix_buffer{};
        pix_buffer.memory_type = HAILO_PIX_BUFFER_MEMORY_TYPE_USERPTR;
        pix_buffer.number_of_planes = 2;
        // Y Plane
        pix_buffer.planes[0].bytes_used = Y_PLANE_SIZE;
        pix_buffer.planes[0].plane_size = Y_PLANE_SIZE;
        pix_buffer.planes[0].user_ptr = reinterpret_cast<void*>(y_plane_buffer.get());
        // UV Plane
        pix_buffer.planes[1].bytes_used = UV_PLANE_SIZE;
        pix_buffer.planes[1].plane_size = UV_PLANE_SIZE;
        pix_buffer.planes[1].user_ptr = reinterpret_cast<void*>(uv_plane_buffer.get());

        input_buffers[input_name] = pix_buffer;
        buffer_guards.push_back(y_plane_buffer);
        buffer_guards.push_back(uv_plane_buffer);
    }

    // Create output buffers.
    std::vector<std::pair<std::string, MemoryView>> output_buffers;
    for (const auto& output_name : infer_model->get_output_names()) {
        size_t output_frame_size = infer_model->output(output_name)->get_frame_size();
        auto output_buffer = page_aligned_alloc(output_frame_size);

        output_buffers.emplace_back(output_name,
                                    MemoryView(output_buffer.get(), output_frame_size));
        buffer_guards.push_back(output_buffer);
    }

    auto bindings = configured_infer_model->create_bindings();
    if (!bindings) {
        std::cerr << "Failed to create infer bindings, status = " << bindings.status() << std::endl;
        return bindings.status();
    }
    for (auto& input_buffer : input_buffers) {
        auto status = bindings->input(input_buffer.first)->set_pix_buffer(input_buffer.second);
        if (HAILO_SUCCESS != status) {
            std::cerr << "Failed to set infer input buffer, status = " << status << std::endl;
            return status;
        }
    }
    for (auto& output_buffer : output_buffers) {
        auto status = bindings->output(output_buffer.first)->set_buffer(output_buffer.second);
        if (HAILO_SUCCESS != status) {
            std::cerr << "Failed to set infer output buffer, status = " << status << std::endl;
            return status;
        }
    }

    auto job = configured_infer_model->run_async(
        bindings.value(), [](const AsyncInferCompletionInfo& completion_info) {
            // Use completion_info to get the async operation status
            // Note that this callback must be executed as quickly as possible
            (void)completion_info.status;
        });
    if (!job) {
        std::cerr << "Failed to start async infer job, status = " << job.status() << std::endl;
        return job.status();
    }
    auto status = job->wait(std::chrono::milliseconds(10000));
    if (HAILO_SUCCESS != status) {
        std::cerr << "Failed to wait for infer to finish, status = " << status << std::endl;
        return status;
    }

    for (const auto& output_buffer : output_buffers) {
        if (!example_io::append_to_file(argv[3], output_buffer.second.data(),
                                        output_buffer.second.size())) {
            return HAILO_FILE_OPERATION_FAILURE;
        }
    }
    std::cout << "Inference finished successfully" << std::endl;
    return HAILO_SUCCESS;
}
