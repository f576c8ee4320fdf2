#include "tasks/model_runner.hpp"

namespace corun::tasks {

Expected<std::unique_ptr<ModelRunner>> ModelRunner::create(
    const std::shared_ptr<VDevice>& vdevice, const std::string& onnx_path,
    const std::map<std::string, std::vector<int64_t>>& input_shapes) {
    if (!vdevice) return Status(StatusCode::INVALID_ARGUMENT, "no VDevice given");
    const std::string context = "model '" + onnx_path + "'";
    std::unique_ptr<ModelRunner> runner(new ModelRunner());
    runner->vdevice_ = vdevice;
    runner->path_ = onnx_path;
    CORUN_TRY(runner->model_, vdevice->create_infer_model(onnx_path));

    for (InferModel::InferStream input : runner->model_->inputs()) {  // handles: copies share
        auto shape = input_shapes.find(input.name());
        if (shape != input_shapes.end()) {
            CORUN_RETURN_IF_ERROR(input.set_shape(shape->second), context);
        }
    }
    auto prepare = [&](InferModel::InferStream stream) {
        // Float streams stay float (no quantization step); others keep their native type.
        if (stream.native_format().type == FormatType::FLOAT32) {
            stream.set_format_type(FormatType::FLOAT32);
        }
        Stream& state = runner->streams_[stream.name()];
        state.type = stream.format().type;
        state.shape = stream.native_shape();
    };
    for (const auto& input : runner->model_->inputs()) prepare(input);
    for (const auto& output : runner->model_->outputs()) prepare(output);

    CORUN_TRY(auto configured, runner->model_->configure(), context);
    runner->configured_ = std::make_unique<ConfiguredInferModel>(std::move(configured));
    CORUN_TRY(auto bindings, runner->configured_->create_bindings(), context);
    runner->bindings_ = std::make_unique<ConfiguredInferModel::Bindings>(std::move(bindings));

    auto bind = [&](Expected<ConfiguredInferModel::Bindings::InferStream> stream) -> Status {
        if (!stream.has_value()) return stream.status();
        Stream& state = runner->streams_[stream->name()];
        // Buffers are sized once here and never reallocated, so the views stay valid.
        state.bytes.assign(stream->get_frame_size(), 0);
        return stream->set_buffer(MemoryView(state.bytes.data(), state.bytes.size()));
    };
    for (const auto& name : runner->model_->get_input_names()) {
        CORUN_RETURN_IF_ERROR(bind(runner->bindings_->input(name)), context);
    }
    for (const auto& name : runner->model_->get_output_names()) {
        CORUN_RETURN_IF_ERROR(bind(runner->bindings_->output(name)), context);
        // Outputs with dynamic dimensions: derive the element count from the bound size.
        Stream& state = runner->streams_[name];
        bool dynamic = false;
        for (int64_t dim : state.shape) dynamic = dynamic || dim < 0;
        if (dynamic) {
            state.shape = {1,
                           static_cast<int64_t>(state.bytes.size() / format_type_size(state.type))};
        }
    }
    return runner;
}

Expected<ModelRunner::Stream*> ModelRunner::find(const std::string& name, FormatType type) {
    auto found = streams_.find(name);
    if (found == streams_.end()) {
        return Status(StatusCode::NOT_FOUND,
                      "model '" + path_ + "' has no stream named '" + name + "'");
    }
    if (found->second.type != type) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "stream '" + name + "' of model '" + path_ + "' is " +
                          format_type_name(found->second.type) + ", not " + format_type_name(type));
    }
    return &found->second;
}

Expected<std::span<float>> ModelRunner::floats(const std::string& name) {
    CORUN_TRY(Stream * stream, find(name, FormatType::FLOAT32));
    return std::span<float>(reinterpret_cast<float*>(stream->bytes.data()),
                            stream->bytes.size() / sizeof(float));
}

Expected<std::span<int64_t>> ModelRunner::int64s(const std::string& name) {
    CORUN_TRY(Stream * stream, find(name, FormatType::INT64));
    return std::span<int64_t>(reinterpret_cast<int64_t*>(stream->bytes.data()),
                              stream->bytes.size() / sizeof(int64_t));
}

Expected<std::vector<int64_t>> ModelRunner::shape(const std::string& name) const {
    auto found = streams_.find(name);
    if (found == streams_.end()) {
        return Status(StatusCode::NOT_FOUND,
                      "model '" + path_ + "' has no stream named '" + name + "'");
    }
    return found->second.shape;
}

Status ModelRunner::run(std::chrono::milliseconds timeout) {
    return configured_->run(*bindings_, timeout).with_context("running model '" + path_ + "'");
}

}  // namespace corun::tasks
