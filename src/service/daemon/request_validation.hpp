// Checks one inference request of a client against what its session owns, before any memory
// is touched: the model, the frame count, one reference per native stream, and every reference
// inside a registered shared-memory region with the stream's exact frame size. Pure functions
// over a RequestScope, so that the fuzzer drives exactly the code the daemon runs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "corun/configured_infer_model.hpp"
#include "corun/expected.hpp"
#include "corun_service.pb.h"

namespace corun::service {

// One stream of a configured model as requests reference it: exactly frame_bytes per frame.
struct NativeStream {
    std::string name;
    uint64_t frame_bytes = 0;
};

// What validation needs to know of a configured model.
struct ModelLayout {
    uint64_t model_id = 0;
    std::string name;
    uint32_t batch_size = 1;
    std::vector<NativeStream> inputs;
    std::vector<NativeStream> outputs;
};

// A registered shared-memory region, mapped at `base` for `size` bytes.
struct MappedRegion {
    uint64_t buffer_id = 0;
    uint8_t* base = nullptr;
    uint64_t size = 0;
};

// Lookups over one session's models and regions (the daemon answers them under the session's
// lock; the fuzzer from fixed tables). nullptr = not this session's.
class RequestScope {
public:
    virtual ~RequestScope() = default;
    virtual const ModelLayout* find_model(uint64_t model_id) const = 0;
    virtual const MappedRegion* find_region(uint64_t buffer_id) const = 0;
};

struct ResolvedFrame {
    std::vector<MemoryView> inputs;  // in the model's native input order
    std::vector<MemoryView> outputs;
};

struct ResolvedRequest {
    const ModelLayout* model = nullptr;
    std::vector<ResolvedFrame> frames;
    std::vector<uint64_t> buffer_ids;  // every region the request touches, each once
};

// The request's frames as memory inside the session's regions, or INVALID_ARGUMENT /
// NOT_FOUND naming the frame, the stream and the fix. Every returned view lies inside its
// region: [base + offset, base + offset + size) with offset + size <= region size.
Expected<ResolvedRequest> resolve_infer_request(const v1::InferRequest& request,
                                                const RequestScope& scope);

// A stream's first message must name its session; later ones may omit it (0) but may not
// name another.
Status check_message_session(const v1::ClientMessage& message, uint64_t session_id,
                             bool first_message);

// Shared-memory names the daemon opens: "/corun.<pid>.<n>" and nothing else, so a client
// cannot make the daemon open another process's region or a path.
bool is_valid_shm_name(std::string_view name);

}  // namespace corun::service
