// What a trace through corund may ask for (the Trace call, `corun trace`): client and daemon
// check the same bounds.
#pragma once

#include <cstddef>
#include <cstdint>

namespace corun::service {

// A trace records at most ten minutes: longer recordings are better split, and corund holds
// the whole trace in memory until it is sent.
constexpr uint32_t MAX_TRACE_SECONDS = 600;
// The trace's JSON travels in chunks of this size (well under gRPC's message limit).
constexpr size_t TRACE_CHUNK_BYTES = size_t{1} << 20;

}  // namespace corun::service
