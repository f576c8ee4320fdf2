// The shared-memory regions one session registered (RegisterBuffer), within the client's byte
// limit, and the pins that keep a region registered while frames read or write it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "corun_service.pb.h"
#include "service/daemon/request_validation.hpp"
#include "service/daemon/shared_memory_mapping.hpp"

namespace corun::service {

// The regions a request's frames use, each counted in use (frames_in_flight) once per frame,
// so that ReleaseBuffer refuses them until every frame is done. Copyable: the job's callback
// holds the regions (unmapped when the last holder goes) and releases the pins.
struct RegionPins {
    std::vector<std::shared_ptr<SharedMemoryMapping>> regions;
    uint64_t frames = 0;

    void release() const;
    // The error of the first region the client shrank under us (docs/SERVICE.md, "Requests and
    // shared memory"), else OK: a frame over such a region read zeros, so its result is void.
    Status fault() const;
};

// A request's frames as memory inside the session's regions, those regions pinned.
struct PinnedRequest {
    std::vector<ResolvedFrame> frames;
    RegionPins pins;
};

class BufferRegistry {
public:
    // `max_bytes`: what the client may register in all. `owner_uid` (when set): regions must
    // belong to that user.
    BufferRegistry(uint64_t max_bytes, std::optional<uint32_t> owner_uid);

    // Maps the client's region `shm_name` of `size` bytes; its buffer_id.
    Expected<uint64_t> add(const std::string& shm_name, uint64_t size);
    // NOT_FOUND if not registered; INVALID_OPERATION while frames use it.
    Status remove(uint64_t buffer_id);
    // The region `buffer_id`, or nullptr when this session has not registered it.
    std::shared_ptr<SharedMemoryMapping> find(uint64_t buffer_id) const;

    // Validates `request` (resolve_infer_request) against `model` (the session's configured
    // model of that id, or nullptr) and the registered regions, and pins what it uses, under
    // one lock: a ReleaseBuffer cannot succeed between the check and the pin.
    Expected<PinnedRequest> resolve(const v1::InferRequest& request,
                                    const ModelLayout* model) const;

    // Unmaps every region (once no frame holds it); later add()s are refused with SHUTDOWN.
    void close();

private:
    class Scope;

    const uint64_t max_bytes_;
    const std::optional<uint32_t> owner_uid_;
    mutable std::mutex mutex_;  // guards everything below
    bool closed_ = false;
    uint64_t last_buffer_id_ = 0;
    uint64_t bytes_ = 0;
    std::map<uint64_t, std::shared_ptr<SharedMemoryMapping>> regions_;
};

}  // namespace corun::service
