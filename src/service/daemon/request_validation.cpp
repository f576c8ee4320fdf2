#include "service/daemon/request_validation.hpp"

#include <algorithm>
#include <limits>

namespace corun::service {
namespace {

std::string stream_names(const std::vector<NativeStream>& streams) {
    std::string names;
    for (const auto& stream : streams) names += (names.empty() ? "'" : ", '") + stream.name + "'";
    return names.empty() ? "none" : names;
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

}  // namespace corun::service
