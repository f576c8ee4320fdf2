#include "runtime/frame_staging.hpp"

#include <cstring>

namespace corun::runtime {

Status stage_inputs(const ConfiguredPipeline& pipeline, const std::vector<MemoryView>& user,
                    std::span<void* const> native) {
    for (size_t s = 0; s < pipeline.input_count; ++s) {
        const ConfiguredStream& stream = pipeline.streams[s];
        if (native[s] == user[s].data) continue;  // the device reads the user's buffer
        const size_t native_bytes = stream.native.byte_size();
        // An unbound optional input (no native buffer either), or a zero-size tensor.
        if (user[s].data == nullptr || native[s] == nullptr || native_bytes == 0) continue;
        if (stream.converts) {
            CORUN_RETURN_IF_ERROR(convert_frame(user[s].data, user[s].size, stream.user, native[s],
                                                native_bytes, stream.native, stream.quant));
        } else {
            std::memcpy(native[s], user[s].data, native_bytes);
        }
    }
    return Status::ok();
}

const void* native_buffer_for_unbound(const ConfiguredStream& stream) {
    static const uint8_t no_bytes = 0;
    return stream.is_input && stream.optional ? nullptr : &no_bytes;
}

Status unstage_outputs(const ConfiguredPipeline& pipeline, std::span<void* const> native,
                       const std::vector<MemoryView>& user) {
    for (size_t s = pipeline.input_count; s < pipeline.streams.size(); ++s) {
        const ConfiguredStream& stream = pipeline.streams[s];
        if (native[s] == user[s].data) continue;  // the device wrote the user's buffer
        const size_t native_bytes = stream.native.byte_size();
        if (native_bytes == 0 || user[s].data == nullptr) continue;  // a zero-size tensor
        if (stream.converts) {
            CORUN_RETURN_IF_ERROR(convert_frame(native[s], native_bytes, stream.native,
                                                user[s].data, user[s].size, stream.user,
                                                stream.quant));
        } else {
            std::memcpy(user[s].data, native[s], native_bytes);
        }
    }
    return Status::ok();
}

}  // namespace corun::runtime
