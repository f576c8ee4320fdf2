/**
 * HailoRT's async_infer_basic_example, written against corun's compatibility header: the same
 * calls, with an ONNX model where the example has a HEF. The input frame is read from a file
 * and the outputs written to one, so that the test can compare them with corun's own API.
 *
 * usage: async_infer_basic_example MODEL.onnx INPUT.bin OUTPUT.bin
 **/

#include "hailo/hailort.hpp"

#include <iostream>

#include "example_io.hpp"

using namespace hailort;

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " MODEL.onnx INPUT.bin OUTPUT.bin" << std::endl;
        return HAILO_INVALID_ARGUMENT;
    }
    const std::string HEF_FILE = argv[1];
    example_io::InputFrames input_frames(argv[2]);

    auto vdevice = VDevice::create();
    if (!vdevice) {
        std::cerr << "Failed create vdevice, status = " << vdevice.status() << std::endl;
        return vdevice.status();
    }
    std::cout << "VDevice created" << std::endl;

    // Create infer model from HEF file.
    auto infer_model_exp = vdevice.value()->create_infer_model(HEF_FILE);
    if (!infer_model_exp) {
        std::cerr << "Failed to create infer model, status = " << infer_model_exp.status()
                  << std::endl;
        return infer_model_exp.status();
    }
    std::cout << "InferModel created" << std::endl;
    auto infer_model = infer_model_exp.release();

    // Configure the infer model
    auto configured_infer_model = infer_model->configure();
    if (!configured_infer_model) {
        std::cerr << "Failed to create configured infer model, status = "
                  << configured_infer_model.status() << std::endl;
        return configured_infer_model.status();
    }
    std::cout << "ConfiguredInferModel created" << std::endl;

    // The buffers are stored here as a guard for the memory. The buffer will be freed only after
    // configured_infer_model will be released.
    std::vector<std::shared_ptr<uint8_t>> buffer_guards;

    auto bindings = configured_infer_model->create_bindings();
    if (!bindings) {
        std::cerr << "Failed to create infer bindings, status = " << bindings.status() << std::endl;
        return bindings.status();
    }

    for (const auto& input_name : infer_model->get_input_names()) {
        size_t input_frame_size = infer_model->input(input_name)->get_frame_size();
        auto input_buffer = page_aligned_alloc(input_frame_size);
        if (!input_frames.copy_next(input_buffer.get(), input_frame_size)) {
            std::cerr << "The input file is too short for input " << input_name << std::endl;
            return HAILO_INVALID_ARGUMENT;
        }
        auto status = bindings->input(input_name)
                          ->set_buffer(MemoryView(input_buffer.get(), input_frame_size));
        if (HAILO_SUCCESS != status) {
            std::cerr << "Failed to set infer input buffer, status = " << status << std::endl;
            return status;
        }

        buffer_guards.push_back(input_buffer);
    }

    std::vector<MemoryView> output_views;
    for (const auto& output_name : infer_model->get_output_names()) {
        size_t output_frame_size = infer_model->output(output_name)->get_frame_size();
        auto output_buffer = page_aligned_alloc(output_frame_size);
        auto status = bindings->output(output_name)
                          ->set_buffer(MemoryView(output_buffer.get(), output_frame_size));
        if (HAILO_SUCCESS != status) {
            std::cerr << "Failed to set infer output buffer, status = " << status << std::endl;
            return status;
        }

        buffer_guards.push_back(output_buffer);
        output_views.push_back(MemoryView(output_buffer.get(), output_frame_size));
    }
    std::cout << "ConfiguredInferModel::Bindings created and configured" << std::endl;

    std::cout << "Running inference..." << std::endl;
    // Run the async infer job.
    auto job = configured_infer_model->run_async(bindings.value());
    if (!job) {
        std::cerr << "Failed to start async infer job, status = " << job.status() << std::endl;
        return job.status();
    }

    auto status = job->wait(std::chrono::milliseconds(10000));
    if (HAILO_SUCCESS != status) {
        std::cerr << "Failed to wait for infer to finish, status = " << status << std::endl;
        return status;
    }

    for (const auto& view : output_views) {
        if (!example_io::append_to_file(argv[3], view.data(), view.size()))
            return HAILO_FILE_OPERATION_FAILURE;
    }
    std::cout << "Inference finished successfully" << std::endl;
    return HAILO_SUCCESS;
}
