#include "cluster/task_results.hpp"

#include <chrono>

namespace corun::cluster {

TaskResult error_task_result(const std::string& key, const std::string& path, uint64_t size,
                             const TaskDefinition& task, const char* kind, std::string message) {
    TaskResult result;
    result.content_hash = key;
    result.path = path;
    result.size = size;
    result.task = task.name;
    result.model = task.model;
    result.model_version = task.model_version;
    result.error_kind = kind;
    result.error = std::move(message);
    return result;
}

TaskResult not_for_task_result(const std::string& hash, const std::string& path, uint64_t size,
                               InputKind kind, const TaskDefinition& task) {
    const bool image_task = task.kind == InputKind::IMAGE;
    const std::string takes =
        "; the " + task.name + " task takes " + (image_task ? "images" : "WAV audio");
    if (kind == InputKind::UNKNOWN) {
        return error_task_result(
            hash, path, size, task, image_task ? input_error::NOT_AN_IMAGE : input_error::NOT_AUDIO,
            "'" + path + "' is not " +
                (image_task ? "an image (PNG, JPEG, BMP, WebP, PNM or TIFF)" : "a WAV audio file") +
                takes);
    }
    return error_task_result(
        hash, path, size, task, input_error::WRONG_KIND,
        "'" + path + "' is " + (kind == InputKind::IMAGE ? "an image" : "WAV audio") + takes);
}

TaskResult run_task_on_input(BatchTask& instance, const TaskDefinition& task,
                             const DecodedInput& input, const std::string& content_hash,
                             const std::string& path, uint64_t size, double decode_ms) {
    const auto start = std::chrono::steady_clock::now();
    auto output = instance.run(input);
    TaskResult result;
    if (output.has_value()) {
        result.content_hash = content_hash;
        result.path = path;
        result.size = size;
        result.task = task.name;
        result.model = task.model;
        result.model_version = task.model_version;
        result.result = std::move(output->result);
        result.stages = std::move(output->stages);
        result.embeddings = std::move(output->embeddings);
        if (output->timing) {
            result.times.pre_ms = output->timing->pre_ms;
            result.times.infer_ms = output->timing->infer_ms;
            result.times.post_ms = output->timing->post_ms;
        }
    } else {
        result = error_task_result(
            content_hash, path, size, task, input_error::TASK_FAILED,
            "the " + task.name + " task failed on '" + path + "': " + output.status().to_string());
    }
    result.times.decode_ms = decode_ms;
    result.times.total_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return result;
}

}  // namespace corun::cluster
