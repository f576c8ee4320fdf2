/**
 * HailoRT's multi_model_inference_example against corun's compatibility header: several models
 * configured on one VDevice, each run asynchronously at once, errors as hailort_error
 * exceptions from expect(). ONNX models where the example has HEFs; inputs read from files and
 * outputs written to files so that the test can check them.
 *
 * usage: multi_model_inference_example MODEL.onnx INPUT.bin OUTPUT.bin [MODEL INPUT OUTPUT ...]
 **/

#include "hailo/hailort.hpp"

#include <chrono>
#include <iostream>

#include "example_io.hpp"

using namespace hailort;

int main(int argc, char** argv) {
    if (argc < 4 || (argc - 1) % 3 != 0) {
        std::cerr << "usage: " << argv[0] << " MODEL.onnx INPUT.bin OUTPUT.bin [...]" << std::endl;
        return HAILO_INVALID_ARGUMENT;
    }
    try {
        auto vdevice = VDevice::create().expect("Failed create vdevice");
        std::cout << "VDevice created" << std::endl;

        struct ModelRun {
            std::shared_ptr<ConfiguredInferModel> configured_infer_model;
            std::shared_ptr<ConfiguredInferModel::Bindings> bindings;
            std::vector<MemoryView> outputs;
            std::string output_path;
        };
        std::vector<ModelRun> configured_infer_models;
        /* The buffers are stored here to ensure memory safety. They will only be freed once
           the configured_infer_model is released, guaranteeing that the buffers remain intact
           until the configured_infer_model is done using them */
        std::vector<std::shared_ptr<uint8_t>> buffer_guards;

        for (int arg = 1; arg < argc; arg += 3) {
            const std::string hef_file = argv[arg];
            example_io::InputFrames input_frames(argv[arg + 1]);
            auto infer_model = vdevice->create_infer_model(hef_file).expect(
                "Failed to create infer model from HEF file " + hef_file);
            std::cout << "InferModel created" << std::endl;

            auto configured_infer_model =
                infer_model->configure().expect("Failed to create configured infer model");
            std::cout << "ConfiguredInferModel created" << std::endl;

            ModelRun run;
            auto bindings =
                configured_infer_model.create_bindings().expect("Failed to create infer bindings");
            for (const auto& input_name : infer_model->get_input_names()) {
                size_t input_frame_size = infer_model->input(input_name)->get_frame_size();
                auto input_buffer = page_aligned_alloc(input_frame_size);
                if (!input_frames.copy_next(input_buffer.get(), input_frame_size)) {
                    throw hailort_error(HAILO_INVALID_ARGUMENT,
                                        "The input file is too short for " + input_name);
                }
                auto status = bindings.input(input_name)
                                  ->set_buffer(MemoryView(input_buffer.get(), input_frame_size));
                if (HAILO_SUCCESS != status) {
                    throw hailort_error(status, "Failed to set infer input buffer");
                }

                buffer_guards.push_back(input_buffer);
            }

            for (const auto& output_name : infer_model->get_output_names()) {
                size_t output_frame_size = infer_model->output(output_name)->get_frame_size();
                auto output_buffer = page_aligned_alloc(output_frame_size);
                auto status = bindings.output(output_name)
                                  ->set_buffer(MemoryView(output_buffer.get(), output_frame_size));
                if (HAILO_SUCCESS != status) {
                    throw hailort_error(status, "Failed to set infer output buffer");
                }

                buffer_guards.push_back(output_buffer);
                run.outputs.push_back(MemoryView(output_buffer.get(), output_frame_size));
            }

            std::cout << "ConfiguredInferModel::Bindings created and configured" << std::endl;

            run.configured_infer_model =
                std::make_shared<ConfiguredInferModel>(configured_infer_model);
            run.bindings = std::make_shared<ConfiguredInferModel::Bindings>(bindings);
            run.output_path = argv[arg + 2];
            configured_infer_models.push_back(run);
        }

        std::vector<AsyncInferJob> jobs;
        std::cout << "Running inference" << std::endl;
        for (const auto& run : configured_infer_models) {
            auto job = run.configured_infer_model->run_async(*run.bindings)
                           .expect("Failed to start async infer job");
            jobs.push_back(std::move(job));
        }

        for (auto& job : jobs) {
            auto status = job.wait(std::chrono::milliseconds(10000));
            if (HAILO_SUCCESS != status) {
                throw hailort_error(status, "Failed to wait for infer to finish");
            }
        }
        for (const auto& run : configured_infer_models) {
            for (const auto& view : run.outputs) {
                if (!example_io::append_to_file(run.output_path, view.data(), view.size())) {
                    throw hailort_error(HAILO_FILE_OPERATION_FAILURE,
                                        "Failed to write " + run.output_path);
                }
            }
        }
        std::cout << "Inference finished successfully" << std::endl;
    } catch (const hailort_error& exception) {
        std::cout << "Failed to run inference. status=" << exception.status() << ", error message "
                  << exception.what() << std::endl;
        return -1;
    };

    return 0;
}
