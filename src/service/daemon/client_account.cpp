#include "service/daemon/client_account.hpp"

#include <algorithm>

namespace corun::service {
namespace {

const char* key_of(ClientAccount::Resource resource) {
    return resource == ClientAccount::Resource::THREADS ? "max_threads_per_client"
                                                        : "max_model_memory_per_client";
}

std::string amount_text(ClientAccount::Resource resource, uint64_t amount) {
    if (resource == ClientAccount::Resource::THREADS) return std::to_string(amount) + " threads";
    return std::to_string(amount >> 20) + " MiB";
}

}  // namespace

Status ClientAccount::charge(Resource resource, uint64_t amount, uint64_t limit,
                             const std::string& what) {
    std::lock_guard lock(mutex_);
    uint64_t& held = resource == Resource::THREADS ? threads_ : model_memory_;
    if (amount > limit || held > limit - amount) {
        std::string flag = std::string("--") + key_of(resource);
        std::replace(flag.begin(), flag.end(), '_', '-');
        return Status(StatusCode::RESOURCE_LIMIT,
                      what + " takes " + amount_text(resource, amount) +
                          "; your models already hold " + amount_text(resource, held) +
                          " of corund's limit of " + amount_text(resource, limit) + " per user (" +
                          key_of(resource) + "); release models, ask for less, or raise " +
                          key_of(resource) + " (corund's config file, or " + flag + ")");
    }
    held += amount;
    return Status::ok();
}

void ClientAccount::refund(Resource resource, uint64_t amount) {
    std::lock_guard lock(mutex_);
    uint64_t& held = resource == Resource::THREADS ? threads_ : model_memory_;
    held -= std::min(held, amount);
}

uint64_t ClientAccount::held(Resource resource) const {
    std::lock_guard lock(mutex_);
    return resource == Resource::THREADS ? threads_ : model_memory_;
}

}  // namespace corun::service
