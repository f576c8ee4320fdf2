#include "service/daemon/request_validation.hpp"

#include <algorithm>
#include <limits>

#include "corun/infer_model.hpp"
#include "protocol/fast_lane.hpp"

namespace corun::service {
namespace {

std::string stream_names(const std::vector<NativeStream>& streams) {
    std::string names;
    for (const auto& stream : streams) names += (names.empty() ? "'" : ", '") + stream.name + "'";
    return names.empty() ? "none" : names;
}

std::string dims_text(const google::protobuf::RepeatedField<int64_t>& dims) {
    return shape_text(std::vector<int64_t>(dims.begin(), dims.end()));
}

// Fixed-size element types: every one but AUTO and STRING, whose elements vary in size and
// so cannot travel in a lane's fixed slots.
bool is_bindable_type(int32_t type) {
    return type > static_cast<int32_t>(FormatType::AUTO) &&
           type < static_cast<int32_t>(FormatType::STRING);
}

std::string model_label(const ModelLayout& model) {
    return "model '" + model.name + "' (model_id " + std::to_string(model.model_id) + ")";
}

Expected<MemoryView> resolve_reference(const v1::BufferRef& reference, const NativeStream& stream,
                                       const std::string& where, const RequestScope& scope) {
    const MappedRegion* region = scope.find_region(reference.buffer_id());
    if (region == nullptr) {
        return Status(StatusCode::NOT_FOUND,
                      where + ": buffer_id " + std::to_string(reference.buffer_id()) +
                          " is not registered in this session; register the shared-memory "
                          "region with RegisterBuffer and use the buffer_id it returns");
    }
    if (reference.size() != stream.frame_bytes) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      where + ": size is " + std::to_string(reference.size()) + " bytes, but '" +
                          stream.name + "' takes exactly " + std::to_string(stream.frame_bytes) +
                          " bytes per frame in its native format; reference one frame");
    }
    const uint64_t offset = reference.offset();
    const uint64_t size = reference.size();
    if (offset > std::numeric_limits<uint64_t>::max() - size) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      where + ": offset " + std::to_string(offset) + " + size " +
                          std::to_string(size) +
                          " overflows 64 bits; give an offset inside buffer_id " +
                          std::to_string(reference.buffer_id()));
    }
    if (offset + size > region->size) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      where + ": offset " + std::to_string(offset) + " + size " +
                          std::to_string(size) + " runs past the end of buffer_id " +
                          std::to_string(reference.buffer_id()) + " (" +
                          std::to_string(region->size) +
                          " bytes); keep every frame inside its registered region");
    }
    return MemoryView(region->base + offset, static_cast<size_t>(size));
}

Status resolve_streams(const google::protobuf::RepeatedPtrField<v1::BufferRef>& references,
                       const std::vector<NativeStream>& streams, bool inputs, size_t frame_index,
                       const ModelLayout& model, const RequestScope& scope,
                       std::vector<MemoryView>& views, std::vector<uint64_t>& buffer_ids) {
    const char* kind = inputs ? "input" : "output";
    if (static_cast<size_t>(references.size()) != streams.size()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "frame " + std::to_string(frame_index) + " has " +
                          std::to_string(references.size()) + " " + kind + " reference(s); " +
                          model_label(model) + " takes " + std::to_string(streams.size()) + " " +
                          kind + "(s) (" + stream_names(streams) +
                          "), one BufferRef each, in this order");
    }
    views.reserve(streams.size());
    for (size_t s = 0; s < streams.size(); ++s) {
        const std::string where =
            "frame " + std::to_string(frame_index) + " " + kind + " '" + streams[s].name + "'";
        CORUN_TRY(MemoryView view,
                  resolve_reference(references[static_cast<int>(s)], streams[s], where, scope));
        views.push_back(view);
        const uint64_t id = references[static_cast<int>(s)].buffer_id();
        if (std::find(buffer_ids.begin(), buffer_ids.end(), id) == buffer_ids.end()) {
            buffer_ids.push_back(id);
        }
    }
    return Status::ok();
}

}  // namespace

Expected<ResolvedRequest> resolve_infer_request(const v1::InferRequest& request,
                                                const RequestScope& scope) {
    ResolvedRequest resolved;
    resolved.model = scope.find_model(request.model_id());
    if (resolved.model == nullptr) {
        return Status(StatusCode::NOT_FOUND,
                      "model_id " + std::to_string(request.model_id()) +
                          " is not a configured model of this session; use the model_id "
                          "ConfigureModel returned on this session");
    }
    const ModelLayout& model = *resolved.model;
    const auto frame_count = static_cast<size_t>(request.frames_size());
    if (frame_count == 0 || frame_count > model.batch_size) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the request has " + std::to_string(frame_count) + " frame(s); " +
                          model_label(model) + " was configured with batch size " +
                          std::to_string(model.batch_size) + ", so send 1.." +
                          std::to_string(model.batch_size) + " frames per request");
    }
    resolved.frames.resize(frame_count);
    for (size_t f = 0; f < frame_count; ++f) {
        const auto& frame = request.frames(static_cast<int>(f));
        CORUN_RETURN_IF_ERROR(resolve_streams(frame.inputs(), model.inputs, true, f, model, scope,
                                              resolved.frames[f].inputs, resolved.buffer_ids));
        CORUN_RETURN_IF_ERROR(resolve_streams(frame.outputs(), model.outputs, false, f, model,
                                              scope, resolved.frames[f].outputs,
                                              resolved.buffer_ids));
    }
    return resolved;
}

Status check_message_session(const v1::ClientMessage& message, uint64_t session_id,
                             bool first_message) {
    if (first_message && message.session_id() == 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the first message of a Session stream must carry the session_id that "
                      "Hello returned");
    }
    if (message.session_id() != 0 && message.session_id() != session_id) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the message names session " + std::to_string(message.session_id()) +
                          ", but this stream belongs to session " + std::to_string(session_id) +
                          "; open one Session stream per session");
    }
    return Status::ok();
}

bool is_valid_shm_name(std::string_view name) {
    // ^/corun\.[0-9]+\.[0-9]+$, without <regex> (slow, and throws on bad patterns).
    constexpr std::string_view prefix = "/corun.";
    if (name.size() > 64 || name.substr(0, prefix.size()) != prefix) return false;
    const std::string_view rest = name.substr(prefix.size());
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) return false;
    auto all_digits = [](std::string_view text) {
        return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    return all_digits(rest.substr(0, dot)) && all_digits(rest.substr(dot + 1));
}

Status check_hello_request(const v1::HelloRequest& request, const DaemonLimits& limits) {
    const v1::VDeviceParams& params = request.params();
    if (params.npu_sim_profile_json().size() > MAX_PROFILE_BYTES) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "the npu-sim profile sent is " +
                          std::to_string(params.npu_sim_profile_json().size()) +
                          " bytes; corund takes at most " + std::to_string(MAX_PROFILE_BYTES));
    }
    // A model's own intra-op threads are counted when it loads; one model's alone must fit.
    if (params.cpu_intra_op_threads() > limits.max_threads_per_client) {
        return Status(StatusCode::RESOURCE_LIMIT,
                      "cpu.intra_op_threads " + std::to_string(params.cpu_intra_op_threads()) +
                          " is over corund's limit of " +
                          std::to_string(limits.max_threads_per_client) +
                          " threads per user (max_threads_per_client); ask for fewer (0 = the "
                          "shared pool, one thread per core), or " +
                          how_to_raise("max_threads_per_client"));
    }
    return Status::ok();
}

Status check_register_buffer_request(const std::string& shm_name, uint64_t size) {
    if (!is_valid_shm_name(shm_name)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "shared-memory name '" + shm_name.substr(0, 80) +
                          "' is not of the form /corun.<pid>.<n>; corund opens only regions "
                          "named so");
    }
    if (size == 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "RegisterBuffer of '" + shm_name + "' with size 0; give the region's size");
    }
    return Status::ok();
}

Status check_fast_lane_region(uint64_t buffer_id, uint64_t region_bytes) {
    if (region_bytes < FAST_LANE_BYTES) {
        return Status(StatusCode::INVALID_ARGUMENT, "buffer_id " + std::to_string(buffer_id) +
                                                        " holds " + std::to_string(region_bytes) +
                                                        " bytes; a fast lane needs " +
                                                        std::to_string(FAST_LANE_BYTES));
    }
    return Status::ok();
}

Status check_model_size(const v1::LoadModelRequest& request, uint64_t max_model_bytes) {
    uint64_t sent_bytes = request.onnx().size();
    for (const auto& file : request.external_data()) sent_bytes += file.content().size();
    if (sent_bytes > max_model_bytes) {
        return Status(StatusCode::RESOURCE_LIMIT,
                      "model '" + request.name() + "' has " + std::to_string(sent_bytes) +
                          " bytes (external data included), over corund's limit of " +
                          std::to_string(max_model_bytes) + " bytes per model; " +
                          how_to_raise("max_model_bytes"));
    }
    return Status::ok();
}

Status check_model_not_empty(const v1::LoadModelRequest& request) {
    if (request.onnx().empty()) {
        return Status(StatusCode::INVALID_MODEL,
                      "model '" + request.name() + "' is empty (0 bytes)");
    }
    return Status::ok();
}

Status check_stream_names(const google::protobuf::RepeatedPtrField<v1::TensorSpec>& specs,
                          const std::vector<std::string>& stream_names, const std::string& kind,
                          const std::string& model_name) {
    bool matches = static_cast<size_t>(specs.size()) == stream_names.size();
    for (size_t i = 0; matches && i < stream_names.size(); ++i) {
        matches = specs[static_cast<int>(i)].name() == stream_names[i];
    }
    if (matches) return Status::ok();
    std::string expected;
    for (const auto& name : stream_names) expected += (expected.empty() ? "'" : ", '") + name + "'";
    return Status(StatusCode::INVALID_ARGUMENT,
                  "model '" + model_name + "' has " + std::to_string(stream_names.size()) + " " +
                      kind + "(s) (" + expected + "); the request lists " +
                      std::to_string(specs.size()) + ". Give one native " + kind +
                      " spec per stream, in this order");
}

uint64_t bounded_frame_bytes(const google::protobuf::RepeatedField<int64_t>& dims, FormatType type,
                             uint64_t limit) {
    uint64_t bytes = format_type_size(type);
    for (int64_t dim : dims) {
        if (dim <= 0) return 0;
        if (bytes > limit / static_cast<uint64_t>(dim)) return 0;
        bytes *= static_cast<uint64_t>(dim);
    }
    return bytes <= limit ? bytes : 0;
}

Status check_tensor_spec(const v1::TensorSpec& spec, const std::string& what, uint64_t limit) {
    if (!is_bindable_type(spec.element_type())) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has element_type " + std::to_string(spec.element_type()) +
                          ", which is no corun::FormatType corund binds (1..13: UINT8 .. "
                          "UINT64; STRING streams run in-process only)");
    }
    if (bounded_frame_bytes(spec.dims(), static_cast<FormatType>(spec.element_type()), limit) ==
        0) {
        // Zero-size tensors run in-process only: a lane slot of 0 bytes has no address.
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has dims " + dims_text(spec.dims()) +
                          "; through corund every dimension must be positive (an empty tensor "
                          "runs in-process only) and one frame must fit in the "
                          "client's shared-memory limit (" +
                          std::to_string(limit) + " bytes)");
    }
    return Status::ok();
}

Status check_native_type(const v1::TensorSpec& spec, const std::string& what, FormatType native) {
    if (spec.element_type() != static_cast<int32_t>(native)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " is " + format_type_name(native) +
                          " natively; the request gives element_type " +
                          std::to_string(spec.element_type()) +
                          ". Send native specs: the client converts formats");
    }
    return Status::ok();
}

Status check_fixed_shape(const v1::TensorSpec& spec, const std::string& what,
                         const std::vector<int64_t>& native_shape) {
    const std::vector<int64_t> dims(spec.dims().begin(), spec.dims().end());
    if (dims != native_shape) {
        return Status(StatusCode::INVALID_ARGUMENT, what + " has the fixed shape " +
                                                        shape_text(native_shape) +
                                                        "; the request gives " + shape_text(dims));
    }
    return Status::ok();
}

Status check_batch_size(uint32_t batch_size) {
    if (batch_size > InferModel::MAX_BATCH_SIZE) {
        return Status(StatusCode::INVALID_ARGUMENT, "batch_size " + std::to_string(batch_size) +
                                                        " is out of range; use 1.." +
                                                        std::to_string(InferModel::MAX_BATCH_SIZE));
    }
    return Status::ok();
}

Status check_configured_frame_size(const NativeStream& stream, bool input,
                                   uint64_t configured_bytes) {
    if (configured_bytes != stream.frame_bytes) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      std::string(input ? "input '" : "output '") + stream.name + "' takes " +
                          std::to_string(configured_bytes) +
                          " bytes per frame as configured, but the request's native spec gives " +
                          std::to_string(stream.frame_bytes) +
                          "; ask OutputDims for the output shapes first");
    }
    return Status::ok();
}

Status check_queue_size(uint32_t asked, size_t capacity, uint32_t batch_size) {
    if (asked > capacity) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "queue_size " + std::to_string(asked) +
                          " is larger than the daemon's queue for batch size " +
                          std::to_string(batch_size) + " (" + std::to_string(capacity) +
                          " frames, 2 x batch size); ask for at most that");
    }
    return Status::ok();
}

}  // namespace corun::service
