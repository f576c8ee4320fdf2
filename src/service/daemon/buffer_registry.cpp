#include "service/daemon/buffer_registry.hpp"

#include <algorithm>
#include <deque>

#include "service/daemon/daemon_config.hpp"

namespace corun::service {

void RegionPins::release() const {
    for (const auto& region : regions) region->frames_in_flight -= frames;
}

Status RegionPins::fault() const {
    for (const auto& region : regions) {
        if (region->faulted()) return region->fault_status();
    }
    return Status::ok();
}

// One model and the registry's regions as request validation sees them (under mutex_).
class BufferRegistry::Scope : public RequestScope {
public:
    Scope(const ModelLayout* model,
          const std::map<uint64_t, std::shared_ptr<SharedMemoryMapping>>& regions)
        : model_(model), regions_(regions) {}
    const ModelLayout* find_model(uint64_t model_id) const override {
        return model_ != nullptr && model_->model_id == model_id ? model_ : nullptr;
    }
    const MappedRegion* find_region(uint64_t buffer_id) const override {
        auto found = regions_.find(buffer_id);
        if (found == regions_.end()) return nullptr;
        mapped_.push_back({buffer_id, found->second->data(), found->second->size()});
        return &mapped_.back();
    }

private:
    const ModelLayout* model_;
    const std::map<uint64_t, std::shared_ptr<SharedMemoryMapping>>& regions_;
    mutable std::deque<MappedRegion> mapped_;  // stable addresses for the returned pointers
};

BufferRegistry::BufferRegistry(uint64_t max_bytes, std::optional<uint32_t> owner_uid)
    : max_bytes_(max_bytes), owner_uid_(owner_uid) {}

Expected<uint64_t> BufferRegistry::add(const std::string& shm_name, uint64_t size) {
    CORUN_RETURN_IF_ERROR(check_register_buffer_request(shm_name, size));
    {
        std::lock_guard lock(mutex_);
        if (size > max_bytes_ - std::min(bytes_, max_bytes_)) {
            return Status(StatusCode::RESOURCE_LIMIT, "registering " + std::to_string(size) +
                                                          " more bytes of shared memory "
                                                          "would exceed this client's limit of " +
                                                          std::to_string(max_bytes_) + " bytes (" +
                                                          std::to_string(bytes_) +
                                                          " registered); release buffers, or " +
                                                          how_to_raise("max_shm_bytes_per_client"));
        }
    }
    // Opening maps the region (a system call or two): outside the lock, so that requests of
    // the session go on meanwhile; the limit is checked again below.
    CORUN_TRY(auto mapping, SharedMemoryMapping::open(shm_name, size, owner_uid_));
    std::lock_guard lock(mutex_);
    if (closed_) return Status(StatusCode::SHUTDOWN, "the session is being released");
    if (size > max_bytes_ - std::min(bytes_, max_bytes_)) {
        return Status(StatusCode::RESOURCE_LIMIT,
                      "shared memory of this client is over its limit of " +
                          std::to_string(max_bytes_) + " bytes");
    }
    bytes_ += size;
    const uint64_t buffer_id = ++last_buffer_id_;
    regions_[buffer_id] = std::move(mapping);
    return buffer_id;
}

Status BufferRegistry::remove(uint64_t buffer_id) {
    std::lock_guard lock(mutex_);
    auto found = regions_.find(buffer_id);
    if (found == regions_.end()) {
        return Status(StatusCode::NOT_FOUND, "buffer_id " + std::to_string(buffer_id) +
                                                 " is not registered in this session");
    }
    if (const uint64_t frames = found->second->frames_in_flight.load(); frames > 0) {
        return Status(StatusCode::INVALID_OPERATION,
                      "buffer_id " + std::to_string(buffer_id) + " is used by " +
                          std::to_string(frames) +
                          " frame(s) queued or running; wait for their completions (or shut the "
                          "model down) before releasing it");
    }
    bytes_ -= found->second->size();
    regions_.erase(found);  // unmapped once no finished job holds it any more
    return Status::ok();
}

std::shared_ptr<SharedMemoryMapping> BufferRegistry::find(uint64_t buffer_id) const {
    std::lock_guard lock(mutex_);
    auto found = regions_.find(buffer_id);
    return found == regions_.end() ? nullptr : found->second;
}

Expected<PinnedRequest> BufferRegistry::resolve(const v1::InferRequest& request,
                                                const ModelLayout* model) const {
    std::lock_guard lock(mutex_);
    Scope scope(model, regions_);
    CORUN_TRY(ResolvedRequest resolved, resolve_infer_request(request, scope));
    PinnedRequest pinned;
    pinned.frames = std::move(resolved.frames);
    pinned.pins.frames = pinned.frames.size();
    for (uint64_t buffer_id : resolved.buffer_ids) {
        pinned.pins.regions.push_back(regions_.at(buffer_id));
        pinned.pins.regions.back()->frames_in_flight += pinned.pins.frames;
    }
    return pinned;
}

void BufferRegistry::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    regions_.clear();
    bytes_ = 0;
}

}  // namespace corun::service
