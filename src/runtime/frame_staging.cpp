#include "runtime/frame_staging.hpp"

#include <cstring>

namespace corun::runtime {

Status stage_inputs(const ConfiguredPipeline& pipeline, const std::vector<MemoryView>& user,
                    std::span<void* const> native) {
    for (size_t s = 0; s < pipeline.input_count; ++s) {
        const ConfiguredStream& stream = pipeline.streams[s];
        if (native[s] == user[s].data) continue;  // the device reads the user's buffer
        const size_t native_bytes = stream.native.byte_size();
        if (stream.converts) {
            CORUN_RETURN_IF_ERROR(convert_frame(user[s].data, user[s].size, stream.user, native[s],
                                                native_bytes, stream.native, stream.quant));
        } else {
            std::memcpy(native[s], user[s].data, native_bytes);
        }
    }
    return Status::ok();
}

Status unstage_outputs(const ConfiguredPipeline& pipeline, std::span<void* const> native,
                       const std::vector<MemoryView>& user) {
    for (size_t s = pipeline.input_count; s < pipeline.streams.size(); ++s) {
        const ConfiguredStream& stream = pipeline.streams[s];
        if (native[s] == user[s].data) continue;  // the device wrote the user's buffer
        const size_t native_bytes = stream.native.byte_size();
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
