#include "corun/infer_model.hpp"

#include <algorithm>
#include <optional>

#include "runtime/configured_pipeline.hpp"
#include "runtime/loaded_infer_model.hpp"
#include "runtime/output_shapes.hpp"

namespace corun {
namespace {

using InferStream = InferModel::InferStream;

std::string stream_label(const StreamSettings& stream) {
    return std::string(stream.is_input ? "input '" : "output '") + stream.declared.name + "'";
}

bool is_image_order(FormatOrder order) {
    return order == FormatOrder::NHWC || order == FormatOrder::NCHW;
}

Status check_bindable(const StreamSettings& stream) {
    if (!stream.declared.is_tensor) {
        return Status(StatusCode::NOT_SUPPORTED,
                      stream_label(stream) + " is a " + stream.declared.onnx_type_name +
                          ", not a tensor: corun binds tensors and optional tensors only. Build "
                          "the sequence or map inside the model from tensor inputs (e.g. "
                          "SequenceConstruct, or SequenceAt/ConcatFromSequence for an output), "
                          "or run this model with ONNX Runtime directly");
    }
    if (stream.native.type == FormatType::AUTO) {
        return Status(StatusCode::NOT_SUPPORTED,
                      stream_label(stream) + " has element type " + stream.declared.onnx_type_name +
                          ", which corun has no FormatType for (it binds float, float16, "
                          "bfloat16, double, int8/16/32/64, uint8/16/32/64, bool and string); "
                          "add a Cast to one of these at the model's edge");
    }
    const FormatType user_type = stream.resolved_user_format().type;
    if ((user_type == FormatType::STRING) != (stream.native.type == FormatType::STRING)) {
        return Status(StatusCode::NOT_SUPPORTED,
                      stream_label(stream) + " is " + format_type_name(stream.native.type) +
                          "; corun converts between numeric types and bool, not to or from " +
                          "strings, so " + format_type_name(user_type) +
                          " cannot be used here (use " + format_type_name(stream.native.type) +
                          ")");
    }
    const Format user = stream.resolved_user_format();
    if (user.order != stream.native.order &&
        !(is_image_order(user.order) && is_image_order(stream.native.order) &&
          stream.native_dims.size() == 4)) {
        return Status(StatusCode::NOT_SUPPORTED,
                      stream_label(stream) + " is " + format_order_name(stream.native.order) +
                          " with shape " + shape_text(stream.native_dims) +
                          "; corun converts only between NHWC and NCHW on rank-4 streams, so " +
                          format_order_name(user.order) + " cannot be used here");
    }
    return Status::ok();
}

Status check_fixed(const StreamSettings& stream) {
    std::string dynamic;
    for (size_t i = 0; i < stream.native_dims.size(); ++i) {
        if (stream.native_dims[i] >= 0) continue;
        const std::string& symbol = stream.declared.dim_names[i];
        dynamic += (dynamic.empty() ? "" : ", ") + std::to_string(i) +
                   (symbol.empty() ? "" : " ('" + symbol + "')");
    }
    if (dynamic.empty()) return Status::ok();
    return Status(StatusCode::INVALID_ARGUMENT,
                  stream_label(stream) + " has dynamic dimension(s) " + dynamic + " in " +
                      shape_text(stream.native_dims) +
                      "; fix them before configure() with "
                      "infer_model->input(\"" +
                      stream.declared.name + "\")->set_shape({...}) (or `--shape " +
                      stream.declared.name + "=...` on the command line)");
}

ConfiguredStream configured_stream(const StreamSettings& stream, const std::vector<int64_t>& dims) {
    ConfiguredStream configured;
    configured.name = stream.declared.name;
    configured.is_input = stream.is_input;
    configured.native = {stream.native.type, stream.native.order, dims};
    const Format user = stream.resolved_user_format();
    configured.user = {user.type, user.order,
                       runtime::reorder_dims(dims, stream.native.order, user.order)};
    configured.quant = stream.quant;
    configured.converts = !runtime::is_same_layout(configured.user, configured.native);
    configured.optional = stream.is_input && stream.declared.optional;
    return configured;
}

// Bytes of a frame with `dims` of `type`, saturating at UINT64_MAX (a model may declare
// dimensions whose product overflows).
uint64_t frame_bytes(const std::vector<int64_t>& dims, FormatType type) {
    uint64_t bytes = format_type_size(type);
    for (int64_t dim : dims) {
        if (dim <= 0) return 0;
        if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes)) return UINT64_MAX;
    }
    return bytes;
}

// Checks that the streams configured so far fit in `limit` bytes per frame, before anything
// allocates a frame (configure() runs a zero-filled one to find dynamic output shapes).
Status check_frame_size(const std::vector<ConfiguredStream>& streams, uint64_t limit,
                        const std::string& model_name) {
    uint64_t total = 0;
    std::string largest;
    uint64_t largest_bytes = 0;
    for (const auto& stream : streams) {
        const uint64_t bytes = std::max(frame_bytes(stream.user.dims, stream.user.type),
                                        frame_bytes(stream.native.dims, stream.native.type));
        if (__builtin_add_overflow(total, bytes, &total)) total = UINT64_MAX;
        if (bytes >= largest_bytes) {
            largest_bytes = bytes;
            largest = std::string(stream.is_input ? "input '" : "output '") + stream.name + "' " +
                      shape_text(stream.native.dims);
        }
    }
    if (total <= limit) return Status::ok();
    const std::string total_text = total == UINT64_MAX ? "more than 2^64" : std::to_string(total);
    return Status(StatusCode::RESOURCE_LIMIT,
                  "configure: one frame of model '" + model_name + "' takes " + total_text +
                      " bytes (the largest stream is " + largest + "), above the frame size " +
                      "limit of " + std::to_string(limit) +
                      " bytes; raise it with infer_model->set_frame_size_limit(bytes) if the "
                      "machine has the memory, or fix the model's dimensions");
}

}  // namespace

// ---- InferStream ----

InferStream::InferStream(std::shared_ptr<StreamSettings> settings)
    : settings_(std::move(settings)) {}

const std::string& InferStream::name() const {
    return settings_->declared.name;
}
bool InferStream::is_input() const {
    return settings_->is_input;
}

namespace {

// The native dims in force: an input's as set; an output's as its inputs make them now.
std::vector<int64_t> dims_in_force(const StreamSettings& settings) {
    if (settings.is_input) return settings.native_dims;
    auto model = settings.model.lock();
    if (!model) return settings.native_dims;
    return runtime::current_output_dims(*model, settings.index);
}

}  // namespace

std::vector<int64_t> InferStream::shape() const {
    const Format user = settings_->resolved_user_format();
    return runtime::reorder_dims(dims_in_force(*settings_), settings_->native.order, user.order);
}

Format InferStream::format() const {
    return settings_->resolved_user_format();
}

size_t InferStream::get_frame_size() const {
    size_t count = 1;
    for (int64_t dim : dims_in_force(*settings_)) {
        if (dim < 0) return 0;
        count *= static_cast<size_t>(dim);
    }
    return count * format_type_size(settings_->resolved_user_format().type);
}

std::vector<QuantInfo> InferStream::get_quant_infos() const {
    return {settings_->quant};
}
std::string InferStream::quant_source() const {
    return settings_->quant_source;
}
Format InferStream::native_format() const {
    return settings_->native;
}
std::vector<int64_t> InferStream::native_shape() const {
    return settings_->native_dims;
}
std::vector<std::string> InferStream::dimension_names() const {
    return settings_->declared.dim_names;
}

void InferStream::set_format_type(FormatType type) const {
    settings_->user.type = type;
}
void InferStream::set_format_order(FormatOrder order) const {
    settings_->user.order = order;
}

Status InferStream::set_shape(const std::vector<int64_t>& native_dims) const {
    // Inputs: fixes dynamic dimensions. Outputs: declares dimensions a model leaves dynamic
    // and that one zero-filled frame cannot reveal (models that branch on input values).
    const auto& declared = settings_->declared.dims;
    const std::string label = (settings_->is_input ? "input '" : "output '") + name() + "'";
    if (native_dims.size() != declared.size()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "set_shape: " + label + " has " + std::to_string(declared.size()) +
                          " dimensions " + shape_text(declared) + "; got " +
                          std::to_string(native_dims.size()) + " " + shape_text(native_dims));
    }
    for (size_t i = 0; i < declared.size(); ++i) {
        // 0 is legal: an empty tensor (ONNX allows it, e.g. no boxes yet).
        if (native_dims[i] < 0 || native_dims[i] > (int64_t{1} << 31)) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "set_shape: dimension " + std::to_string(i) + " of " + label + " is " +
                              std::to_string(native_dims[i]) + "; it must be 0..2^31");
        }
        if (declared[i] >= 0 && declared[i] != native_dims[i]) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "set_shape: dimension " + std::to_string(i) + " of " + label +
                              " is fixed at " + std::to_string(declared[i]) +
                              " by the model; got " + std::to_string(native_dims[i]));
        }
    }
    settings_->native_dims = native_dims;
    settings_->shape_set = true;
    return Status::ok();
}

// ---- InferModel ----

InferModel::InferModel(std::shared_ptr<LoadedInferModel> loaded) : loaded_(std::move(loaded)) {
    for (const auto& stream : loaded_->inputs) {
        inputs_.push_back(InferStream(stream));
        input_names_.push_back(stream->declared.name);
    }
    for (const auto& stream : loaded_->outputs) {
        outputs_.push_back(InferStream(stream));
        output_names_.push_back(stream->declared.name);
    }
}

const ModelInfo& InferModel::info() const {
    return loaded_->info;
}
const std::vector<InferStream>& InferModel::inputs() const {
    return inputs_;
}
const std::vector<InferStream>& InferModel::outputs() const {
    return outputs_;
}
const std::vector<std::string>& InferModel::get_input_names() const {
    return input_names_;
}
const std::vector<std::string>& InferModel::get_output_names() const {
    return output_names_;
}

namespace {

Expected<InferStream> only_stream(const std::vector<InferStream>& streams, bool is_input) {
    if (streams.size() != 1) {
        std::string names;
        for (const auto& s : streams) names += (names.empty() ? "'" : ", '") + s.name() + "'";
        return Status(StatusCode::INVALID_OPERATION,
                      std::string("the model has ") + std::to_string(streams.size()) +
                          (is_input ? " inputs (" : " outputs (") + names + "); use " +
                          (is_input ? "input(name)" : "output(name)") + " to pick one");
    }
    return streams.front();
}

Expected<InferStream> named_stream(const std::vector<InferStream>& streams, bool is_input,
                                   const std::string& name) {
    for (const auto& stream : streams) {
        if (stream.name() == name) return stream;
    }
    std::string names;
    for (const auto& s : streams) names += (names.empty() ? "'" : ", '") + s.name() + "'";
    return Status(StatusCode::NOT_FOUND,
                  std::string("the model has no ") + (is_input ? "input" : "output") + " named '" +
                      name + "'; its " + (is_input ? "inputs" : "outputs") + " are " + names);
}

}  // namespace

Expected<InferStream> InferModel::input() {
    return only_stream(inputs_, true);
}
Expected<InferStream> InferModel::output() {
    return only_stream(outputs_, false);
}
Expected<InferStream> InferModel::input(const std::string& name) {
    return named_stream(inputs_, true, name);
}
Expected<InferStream> InferModel::output(const std::string& name) {
    return named_stream(outputs_, false, name);
}

Status InferModel::set_batch_size(uint16_t batch_size) {
    if (batch_size > MAX_BATCH_SIZE) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "batch size " + std::to_string(batch_size) + " is out of range; use 1.." +
                          std::to_string(MAX_BATCH_SIZE) + ", or 0 to let corun pick");
    }
    loaded_->batch_size = batch_size;
    return Status::ok();
}

uint16_t InferModel::batch_size() const {
    return loaded_->batch_size == 0 ? 1 : loaded_->batch_size;
}

Status InferModel::set_frame_time_limit(std::chrono::milliseconds limit) {
    if (limit < std::chrono::milliseconds(1) || limit > MAX_FRAME_TIME_LIMIT) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "frame time limit " + std::to_string(limit.count()) +
                          " ms is out of range; use 1.." +
                          std::to_string(MAX_FRAME_TIME_LIMIT.count()) + " ms (24 hours)");
    }
    frame_time_limit_ = limit;
    return Status::ok();
}

Status InferModel::set_frame_size_limit(uint64_t bytes) {
    if (bytes == 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "frame size limit 0 would refuse every model; give a byte count (default " +
                          std::to_string(DEFAULT_FRAME_SIZE_LIMIT) + ")");
    }
    frame_size_limit_ = bytes;
    return Status::ok();
}

Expected<ConfiguredInferModel> InferModel::configure() {
    auto configured = std::make_shared<ConfiguredPipeline>();
    configured->model = loaded_;
    for (const auto& stream : loaded_->inputs) {
        CORUN_RETURN_IF_ERROR(check_bindable(*stream), "configure");
        CORUN_RETURN_IF_ERROR(check_fixed(*stream), "configure");
        configured->streams.push_back(configured_stream(*stream, stream->native_dims));
        configured->native_inputs.push_back(
            {stream->declared.name, stream->native.type, stream->native_dims});
        configured->input_names.push_back(stream->declared.name);
    }
    configured->input_count = configured->streams.size();
    CORUN_RETURN_IF_ERROR(check_frame_size(configured->streams, frame_size_limit_, info().name));
    configured->frame_limits.time_limit = frame_time_limit_;
    configured->frame_limits.termination = &configured->termination;

    // Output dimensions follow from the inputs; one zero-filled frame runs when the model
    // does not declare them.
    auto found =
        runtime::resolve_output_dims(*loaded_, configured->native_inputs, configured->frame_limits);
    if (!found) {
        std::string names;
        for (const auto& stream : loaded_->outputs) names += " '" + stream->declared.name + "'";
        return Status(found.status().code(),
                      "configure: the model leaves the shapes of its outputs (" + names +
                          " ) dynamic, and running one zero-filled frame to find them "
                          "failed: " +
                          found.status().message() +
                          ". Declare them with infer_model->output(name)->set_shape({...})");
    }
    const std::vector<std::vector<int64_t>> output_dims = found.release();
    for (size_t i = 0; i < loaded_->outputs.size(); ++i) {
        const auto& stream = *loaded_->outputs[i];
        CORUN_RETURN_IF_ERROR(check_bindable(stream), "configure");
        configured->streams.push_back(configured_stream(stream, output_dims[i]));
        configured->native_outputs.push_back(
            {stream.declared.name, stream.native.type, output_dims[i]});
        configured->output_names.push_back(stream.declared.name);
    }
    CORUN_RETURN_IF_ERROR(check_frame_size(configured->streams, frame_size_limit_, info().name));
    configured->batch_size = batch_size();
    configured->queue_size = std::max<size_t>(2, 2 * static_cast<size_t>(configured->batch_size));
    configured->scheduling.burst = configured->batch_size;
    CORUN_TRY(configured->execution, loaded_->backend_model->configure(*configured));
    configured->model_id = configured->execution->model_id();
    return ConfiguredInferModel(std::move(configured));
}

}  // namespace corun
