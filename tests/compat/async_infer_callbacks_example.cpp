/**
 * In the style of HailoRT's async_infer_advanced_example, against corun's compatibility header:
 * a batch size and the scheduler setters, output format type FLOAT32, then frames queued
 * BATCH_SIZE at a time with wait_for_async_ready, each run_async given a completion callback
 * and detached; the program waits for every callback. Frames are read from a file and each
 * frame's outputs written to one, in frame order, so that the test can check them.
 *
 * usage: async_infer_callbacks_example MODEL.onnx FRAMES.bin OUTPUT.bin FRAME_COUNT
 **/

#include "hailo/hailort.hpp"

#include <condition_variable>
#include <iostream>
#include <mutex>

#include "example_io.hpp"

#define BATCH_SIZE (2)

using namespace hailort;

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: " << argv[0] << " MODEL.onnx FRAMES.bin OUTPUT.bin FRAME_COUNT"
                  << std::endl;
        return HAILO_INVALID_ARGUMENT;
    }
    const uint32_t frame_count = static_cast<uint32_t>(std::stoul(argv[4]));
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

    for (auto& output : infer_model->outputs()) {
        InferModel::InferStream stream = output;
        stream.set_format_type(HAILO_FORMAT_TYPE_FLOAT32);
    }
    infer_model->set_batch_size(BATCH_SIZE);

    auto configured_infer_model = infer_model->configure();
    if (!configured_infer_model) {
        std::cerr << "Failed to create configured infer model, status = "
                  << configured_infer_model.status() << std::endl;
        return configured_infer_model.status();
    }
    for (auto status :
         {configured_infer_model->set_scheduler_priority(HAILO_SCHEDULER_PRIORITY_NORMAL + 1),
          configured_infer_model->set_scheduler_threshold(BATCH_SIZE),
          configured_infer_model->set_scheduler_timeout(std::chrono::milliseconds(100))}) {
        if (HAILO_SUCCESS != status) {
            std::cerr << "Failed to set the scheduler's parameters, status = " << status
                      << std::endl;
            return status;
        }
    }
    auto queue_size = configured_infer_model->get_async_queue_size();
    if (!queue_size || *queue_size < BATCH_SIZE) {
        std::cerr << "The async queue does not take a batch" << std::endl;
        return HAILO_INTERNAL_FAILURE;
    }

    // Every frame's buffers, kept until the program ends.
    std::vector<std::shared_ptr<uint8_t>> buffer_guards;
    std::vector<std::vector<MemoryView>> frame_outputs(frame_count);

    std::mutex mutex;
    std::condition_variable all_done;
    uint32_t callbacks_called = 0;
    uint32_t callbacks_failed = 0;

    std::cout << "Running inference..." << std::endl;
    AsyncInferJob last_infer_job;
    for (uint32_t first = 0; first < frame_count; first += BATCH_SIZE) {
        // Waiting for available requests in the pipeline
        auto status = configured_infer_model->wait_for_async_ready(std::chrono::milliseconds(10000),
                                                                   BATCH_SIZE);
        if (HAILO_SUCCESS != status) {
            std::cerr << "Failed to wait for async ready, status = " << status << std::endl;
            return status;
        }

        std::vector<ConfiguredInferModel::Bindings> bindings_batch;
        for (uint32_t frame = first; frame < first + BATCH_SIZE && frame < frame_count; frame++) {
            auto bindings = configured_infer_model->create_bindings();
            if (!bindings) {
                std::cerr << "Failed to create infer bindings, status = " << bindings.status()
                          << std::endl;
                return bindings.status();
            }
            for (const auto& input_name : infer_model->get_input_names()) {
                size_t input_frame_size = infer_model->input(input_name)->get_frame_size();
                auto input_buffer = page_aligned_alloc(input_frame_size);
                if (!input_frames.copy_next(input_buffer.get(), input_frame_size)) {
                    std::cerr << "The frames file is too short" << std::endl;
                    return HAILO_INVALID_ARGUMENT;
                }
                status = bindings->input(input_name)
                             ->set_buffer(MemoryView(input_buffer.get(), input_frame_size));
                if (HAILO_SUCCESS != status) {
                    std::cerr << "Failed to set infer input buffer, status = " << status
                              << std::endl;
                    return status;
                }
                buffer_guards.push_back(input_buffer);
            }
            for (const auto& output_name : infer_model->get_output_names()) {
                size_t output_frame_size = infer_model->output(output_name)->get_frame_size();
                auto output_buffer = page_aligned_alloc(output_frame_size);
                status = bindings->output(output_name)
                             ->set_buffer(MemoryView(output_buffer.get(), output_frame_size));
                if (HAILO_SUCCESS != status) {
                    std::cerr << "Failed to set infer output buffer, status = " << status
                              << std::endl;
                    return status;
                }
                buffer_guards.push_back(output_buffer);
                frame_outputs[frame].push_back(MemoryView(output_buffer.get(), output_frame_size));
            }
            bindings_batch.emplace_back(bindings.release());
        }

        auto job = configured_infer_model->run_async(
            bindings_batch, [&](const AsyncInferCompletionInfo& completion_info) {
                // Note that this callback must be executed as quickly as possible
                std::lock_guard<std::mutex> lock(mutex);
                callbacks_called++;
                if (HAILO_SUCCESS != completion_info.status) callbacks_failed++;
                all_done.notify_all();
            });
        if (!job) {
            std::cerr << "Failed to start async infer job, status = " << job.status() << std::endl;
            return job.status();
        }
        // detach() is called in order for jobs to run in parallel (and not one after the other)
        job->detach();
        last_infer_job = job.release();
    }

    auto status = last_infer_job.wait(std::chrono::milliseconds(10000));
    if (HAILO_SUCCESS != status) {
        std::cerr << "Failed to wait for infer to finish, status = " << status << std::endl;
        return status;
    }
    const uint32_t jobs = (frame_count + BATCH_SIZE - 1) / BATCH_SIZE;
    {
        std::unique_lock<std::mutex> lock(mutex);
        if (!all_done.wait_for(lock, std::chrono::seconds(60),
                               [&] { return callbacks_called == jobs; })) {
            std::cerr << "Only " << callbacks_called << " of " << jobs << " callbacks were called"
                      << std::endl;
            return HAILO_TIMEOUT;
        }
        if (callbacks_failed != 0) {
            std::cerr << callbacks_failed << " jobs failed" << std::endl;
            return HAILO_INTERNAL_FAILURE;
        }
    }
    for (const auto& outputs : frame_outputs) {
        for (const auto& view : outputs) {
            if (!example_io::append_to_file(argv[3], view.data(), view.size()))
                return HAILO_FILE_OPERATION_FAILURE;
        }
    }
    std::cout << "Inference finished successfully on " << frame_count << " frames, "
              << callbacks_called << " callbacks" << std::endl;
    return HAILO_SUCCESS;
}
