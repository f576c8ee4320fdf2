#include "tasks/ocr_shape_cache.hpp"

#include <algorithm>
#include <filesystem>

namespace corun::tasks {

Expected<std::unique_ptr<ShapeCachedModel>> ShapeCachedModel::create(VDevice& vdevice,
                                                                     const std::string& onnx_path,
                                                                     size_t capacity) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(onnx_path, error)) {
        return Status(StatusCode::NOT_FOUND,
                      "the model '" + onnx_path +
                          "' does not exist; run scripts/fetch_models.sh to fetch it");
    }
    CORUN_TRY(auto model, vdevice.create_infer_model(onnx_path));
    CORUN_CHECK(
        model->inputs().size() == 1 && model->outputs().size() == 1, StatusCode::INVALID_MODEL,
        "'" + onnx_path + "' has " + std::to_string(model->inputs().size()) + " inputs and " +
            std::to_string(model->outputs().size()) + " outputs; expected one of each");
    for (auto stream : {model->inputs().front(), model->outputs().front()}) {
        CORUN_CHECK(stream.native_format().type == FormatType::FLOAT32, StatusCode::INVALID_MODEL,
                    "'" + onnx_path + "': stream '" + stream.name() + "' is " +
                        format_type_name(stream.native_format().type) + "; expected FLOAT32");
        stream.set_format_type(FormatType::FLOAT32);
        stream.set_format_order(stream.native_format().order);  // we lay tensors out natively
    }
    return std::unique_ptr<ShapeCachedModel>(
        new ShapeCachedModel(std::move(model), std::max<size_t>(capacity, 1)));
}

Expected<ConfiguredInferModel> ShapeCachedModel::configured_for(
    const std::vector<int64_t>& input_dims, const std::vector<int64_t>& output_dims) {
    std::lock_guard lock(mutex_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
        if (it->first == input_dims) {
            cache_.splice(cache_.begin(), cache_, it);
            return cache_.front().second;
        }
    }
    CORUN_RETURN_IF_ERROR(model_->inputs().front().set_shape(input_dims));
    if (!output_dims.empty()) {
        CORUN_RETURN_IF_ERROR(model_->outputs().front().set_shape(output_dims));
    }
    CORUN_TRY(auto configured, model_->configure());
    ++configure_count_;
    cache_.emplace_front(input_dims, configured);
    // An evicted handle shuts its pipeline down once no run() still holds a copy.
    if (cache_.size() > capacity_) cache_.pop_back();
    return configured;
}

Expected<std::vector<float>> ShapeCachedModel::run(const std::vector<float>& input,
                                                   const std::vector<int64_t>& input_dims,
                                                   const std::vector<int64_t>& output_dims,
                                                   std::chrono::milliseconds timeout) {
    CORUN_TRY(auto configured, configured_for(input_dims, output_dims));
    CORUN_TRY(auto bindings, configured.create_bindings());
    CORUN_TRY(auto input_stream, bindings.input());
    CORUN_TRY(auto output_stream, bindings.output());
    // The runtime reads the input without writing it; MemoryView takes a mutable pointer.
    CORUN_RETURN_IF_ERROR(input_stream.set_buffer(
        MemoryView(const_cast<float*>(input.data()), input.size() * sizeof(float))));
    std::vector<float> output(output_stream.get_frame_size() / sizeof(float));
    CORUN_RETURN_IF_ERROR(output_stream.set_buffer(MemoryView::of(output)));
    CORUN_RETURN_IF_ERROR(configured.run(bindings, timeout));
    return output;
}

size_t ShapeCachedModel::configure_count() const {
    std::lock_guard lock(mutex_);
    return configure_count_;
}

}  // namespace corun::tasks
