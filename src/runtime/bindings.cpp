#include <algorithm>

#include "common/string_elements.hpp"
#include "corun/configured_infer_model.hpp"
#include "runtime/configured_pipeline.hpp"
#include "runtime/format_conversion.hpp"
#include "runtime/pix_conversion.hpp"

namespace corun {

using Bindings = ConfiguredInferModel::Bindings;

Bindings::Bindings(std::shared_ptr<const ConfiguredPipeline> pipeline)
    : pipeline_(std::move(pipeline)),
      buffers_(pipeline_->streams.size()),
      converted_frames_(pipeline_->streams.size()) {}

Expected<Bindings::InferStream> Bindings::find(const std::string& name, bool is_input) {
    const auto& streams = pipeline_->streams;
    for (size_t i = 0; i < streams.size(); ++i) {
        if (streams[i].name == name && streams[i].is_input == is_input) return InferStream(this, i);
    }
    std::string known;
    for (const auto& stream : streams) {
        if (stream.is_input == is_input) known += (known.empty() ? "'" : ", '") + stream.name + "'";
    }
    return Status(StatusCode::NOT_FOUND,
                  std::string("the model has no ") + (is_input ? "input" : "output") + " named '" +
                      name + "'; its " + (is_input ? "inputs" : "outputs") + " are " + known);
}

Expected<Bindings::InferStream> Bindings::single(bool is_input) {
    const size_t count =
        is_input ? pipeline_->input_count : pipeline_->streams.size() - pipeline_->input_count;
    if (count != 1) {
        return Status(StatusCode::INVALID_OPERATION,
                      std::string("the model has ") + std::to_string(count) +
                          (is_input ? " inputs" : " outputs") + "; name the one you mean with " +
                          (is_input ? "input(name)" : "output(name)"));
    }
    return InferStream(this, is_input ? 0 : pipeline_->input_count);
}

Expected<Bindings::InferStream> Bindings::input() {
    return single(true);
}
Expected<Bindings::InferStream> Bindings::output() {
    return single(false);
}
Expected<Bindings::InferStream> Bindings::input(const std::string& name) {
    return find(name, true);
}
Expected<Bindings::InferStream> Bindings::output(const std::string& name) {
    return find(name, false);
}

Status Bindings::InferStream::set_buffer(MemoryView view) {
    const ConfiguredStream& stream = owner_->pipeline_->streams[index_];
    if (stream.user.type == FormatType::STRING && view.data != nullptr) {
        // An input holds exactly its elements; an output's buffer is the room its strings
        // may take (their size is known only once computed).
        if (stream.is_input &&
            !common::read_string_elements(view.data, view.size, stream.user.element_count())) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "set_buffer: " + stream.describe() + " got " + std::to_string(view.size) +
                              " bytes that are not " + std::to_string(stream.user.element_count()) +
                              " strings; lay each element out as a 4-byte little-endian length "
                              "followed by its bytes (KServe's BYTES layout)");
        }
        owner_->buffers_[index_] = view;
        owner_->converted_frames_[index_].reset();
        return Status::ok();
    }
    if (view.data != nullptr && view.size != stream.user.byte_size()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "set_buffer: " + stream.describe() + " got a buffer of " +
                          std::to_string(view.size) +
                          " bytes; allocate exactly the frame size, or change the stream's "
                          "format before configure()");
    }
    owner_->buffers_[index_] = view;
    owner_->converted_frames_[index_].reset();
    return Status::ok();
}

Status Bindings::InferStream::set_pix_buffer(const PixBuffer& pix_buffer) {
    const ConfiguredStream& stream = owner_->pipeline_->streams[index_];
    const auto& dims = stream.user.dims;
    const bool nhwc = stream.user.order == FormatOrder::NHWC;
    const bool image = dims.size() == 4 && (nhwc || stream.user.order == FormatOrder::NCHW) &&
                       dims[0] == 1 && dims[nhwc ? 3 : 1] == 3;
    if (!stream.is_input || !image || format_type_size(stream.user.type) == 0) {
        return Status(StatusCode::INVALID_OPERATION,
                      "set_pix_buffer: " + stream.describe() +
                          " is not an image input of one frame with 3 channels (NHWC or NCHW, "
                          "numeric); bind it with set_buffer");
    }
    const size_t height = static_cast<size_t>(dims[nhwc ? 1 : 2]);
    const size_t width = static_cast<size_t>(dims[nhwc ? 2 : 3]);
    CORUN_RETURN_IF_ERROR(runtime::check_pix_buffer(pix_buffer, height, width),
                          "input '" + stream.name + "'");
    const runtime::FrameLayout rgb_layout{
        FormatType::UINT8, FormatOrder::NHWC, {1, int64_t(height), int64_t(width), 3}};
    std::vector<uint8_t> rgb(rgb_layout.byte_size());
    runtime::pix_buffer_to_rgb(pix_buffer, height, width, rgb.data());
    auto frame = std::make_shared<std::vector<uint8_t>>(stream.user.byte_size());
    if (runtime::is_same_layout(rgb_layout, stream.user)) {
        *frame = std::move(rgb);
    } else if (stream.user.type == FormatType::FLOAT32) {
        runtime::rgb_to_float32(rgb.data(), height, width, !nhwc,
                                reinterpret_cast<float*>(frame->data()));
    } else {
        // Pixel values stay 0..255 in any type: an identity mapping, not the stream's quant.
        CORUN_RETURN_IF_ERROR(
            runtime::convert_frame(rgb.data(), rgb.size(), rgb_layout, frame->data(), frame->size(),
                                   stream.user, QuantInfo{}),
            "set_pix_buffer: input '" + stream.name + "'");
    }
    owner_->buffers_[index_] = MemoryView(frame->data(), frame->size());
    owner_->converted_frames_[index_] = std::move(frame);
    return Status::ok();
}

Expected<MemoryView> Bindings::InferStream::get_buffer() const {
    const MemoryView& view = owner_->buffers_[index_];
    if (view.data == nullptr && get_frame_size() != 0) {
        return Status(
            StatusCode::NOT_FOUND,
            "get_buffer: " + owner_->pipeline_->streams[index_].describe() + " has no buffer set");
    }
    return view;
}

const std::string& Bindings::InferStream::name() const {
    return owner_->pipeline_->streams[index_].name;
}

size_t Bindings::InferStream::get_frame_size() const {
    return owner_->pipeline_->streams[index_].user.byte_size();
}

std::vector<int64_t> Bindings::InferStream::shape() const {
    return owner_->pipeline_->streams[index_].user.dims;
}

Format Bindings::InferStream::format() const {
    const ConfiguredStream& stream = owner_->pipeline_->streams[index_];
    return {stream.user.type, stream.user.order};
}

std::vector<QuantInfo> Bindings::InferStream::get_quant_infos() const {
    return {owner_->pipeline_->streams[index_].quant};
}

}  // namespace corun
