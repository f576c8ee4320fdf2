// What all sessions of one user (uid) hold together in corund: threads their models make and
// memory their models took at load. Limits per session alone would let a client open more
// sessions to get more; charged per user, they cannot.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "corun/expected.hpp"

namespace corun::service {

class ClientAccount {
public:
    enum class Resource { THREADS, MODEL_MEMORY };

    // Takes `amount` if the user stays within `limit`; otherwise RESOURCE_LIMIT naming what
    // was asked (`what`), what the user holds, the limit's key and how to raise it.
    Status charge(Resource resource, uint64_t amount, uint64_t limit, const std::string& what);
    void refund(Resource resource, uint64_t amount);
    uint64_t held(Resource resource) const;

private:
    mutable std::mutex mutex_;
    uint64_t threads_ = 0;
    uint64_t model_memory_ = 0;
};

// An amount taken from an account, given back when the last holder lets go of it (a loaded
// model's memory is held by the session's entry and by every configuration of it).
class AccountCharge {
public:
    AccountCharge(std::shared_ptr<ClientAccount> account, ClientAccount::Resource resource,
                  uint64_t amount)
        : account_(std::move(account)), resource_(resource), amount_(amount) {}
    ~AccountCharge() { account_->refund(resource_, amount_); }
    AccountCharge(const AccountCharge&) = delete;
    AccountCharge& operator=(const AccountCharge&) = delete;

private:
    std::shared_ptr<ClientAccount> account_;
    ClientAccount::Resource resource_;
    uint64_t amount_;
};

// Charges `amount` and returns the charge that gives it back.
inline Expected<std::shared_ptr<AccountCharge>> charge_account(
    const std::shared_ptr<ClientAccount>& account, ClientAccount::Resource resource,
    uint64_t amount, uint64_t limit, const std::string& what) {
    CORUN_RETURN_IF_ERROR(account->charge(resource, amount, limit, what));
    return std::make_shared<AccountCharge>(account, resource, amount);
}

}  // namespace corun::service
