// One staging path for both backends: a frame's user buffers into the native buffers a device
// reads, and the native outputs back into the user's buffers, converting formats where they
// differ (format_conversion.hpp). `native` holds each stream's native buffer in stream order
// (inputs, then outputs): the local backend passes the user's own buffer where no conversion is
// needed (then nothing is copied), the remote backend always a slot of shared memory.
#pragma once

#include <span>
#include <vector>

#include "corun/configured_infer_model.hpp"
#include "runtime/configured_pipeline.hpp"

namespace corun::runtime {

// Every input stream of one frame, from `user` into `native`.
Status stage_inputs(const ConfiguredPipeline& pipeline, const std::vector<MemoryView>& user,
                    std::span<void* const> native);

// What the device gets for a stream the user left unbound (only zero-size streams and optional
// inputs may be): null for an optional input, which the device then omits; for a zero-size
// tensor, an address of no bytes (a device cannot tell a null one from an omitted input).
const void* native_buffer_for_unbound(const ConfiguredStream& stream);

// Every output stream of one frame, from `native` into `user`.
Status unstage_outputs(const ConfiguredPipeline& pipeline, std::span<void* const> native,
                       const std::vector<MemoryView>& user);

}  // namespace corun::runtime
