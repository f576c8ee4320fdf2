// The generative models one session holds (its LLMs, its Speech2Text models) by daemon-wide id:
// the bookkeeping their registries share. A load reserves a place first (counted against the
// per-client limit while the file streams in), then adds the model; closing the table refuses
// later loads and hands every model back to be closed. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "service/daemon/daemon_config.hpp"

namespace corun::service {

// How the table's errors name its models: "an LLM" with id field "llm_id" loaded by "LoadLlm",
// its limit "max_llms_per_client", and how a client frees one.
struct GenerativeModelKind {
    std::string a_model;      // "an LLM"
    std::string models;       // "LLMs"
    std::string id_field;     // "llm_id"
    std::string load_call;    // "LoadLlm"
    std::string limit_key;    // "max_llms_per_client"
    std::string how_to_free;  // "destroy its genai::LLM"
};

template <typename Served>
class GenerativeModelTable {
public:
    explicit GenerativeModelTable(GenerativeModelKind kind) : kind_(std::move(kind)) {}

    // A place for a model being loaded, given back when the reservation goes.
    class Reservation {
    public:
        explicit Reservation(GenerativeModelTable* table) : table_(table) {}
        Reservation(Reservation&& other) noexcept : table_(other.table_) { other.table_ = nullptr; }
        Reservation& operator=(Reservation&&) = delete;
        ~Reservation() {
            if (table_ == nullptr) return;
            std::lock_guard lock(table_->mutex_);
            --table_->loading_;
        }

    private:
        GenerativeModelTable* table_;
    };

    // SHUTDOWN once closed; RESOURCE_LIMIT naming the setting when `limit` models (loads under
    // way included) are there already.
    Expected<Reservation> reserve(uint32_t limit) {
        std::lock_guard lock(mutex_);
        if (closed_) return Status(StatusCode::SHUTDOWN, "the session is being released");
        const size_t count = models_.size() + loading_;
        if (count >= limit) {
            return Status(StatusCode::RESOURCE_LIMIT,
                          "this client has " + std::to_string(count) + " " + kind_.models +
                              ", corund's limit per client; unload one (" + kind_.how_to_free +
                              ") or " + how_to_raise(kind_.limit_key));
        }
        ++loading_;
        return Reservation(this);
    }

    // SHUTDOWN when the table closed meanwhile (the caller then closes the model itself).
    Status add(uint64_t id, std::shared_ptr<Served> model) {
        std::lock_guard lock(mutex_);
        if (closed_) return Status(StatusCode::SHUTDOWN, "the session is being released");
        models_[id] = std::move(model);
        return Status::ok();
    }

    // NOT_FOUND naming the fix when `id` is not one of this session's models.
    Expected<std::shared_ptr<Served>> find(uint64_t id) const {
        std::lock_guard lock(mutex_);
        auto found = models_.find(id);
        if (found == models_.end()) return not_found(id);
        return found->second;
    }

    // Removes the model and returns it, for the caller to close outside the lock.
    Expected<std::shared_ptr<Served>> take(uint64_t id) {
        std::lock_guard lock(mutex_);
        auto found = models_.find(id);
        if (found == models_.end()) return not_found(id);
        std::shared_ptr<Served> model = std::move(found->second);
        models_.erase(found);
        return model;
    }

    std::vector<std::shared_ptr<Served>> list() const {
        std::lock_guard lock(mutex_);
        std::vector<std::shared_ptr<Served>> all;
        for (const auto& [id, model] : models_) all.push_back(model);
        return all;
    }

    // Later loads are refused; every model is handed back to be closed. Idempotent.
    std::vector<std::shared_ptr<Served>> close() {
        std::map<uint64_t, std::shared_ptr<Served>> models;
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            models.swap(models_);
        }
        std::vector<std::shared_ptr<Served>> all;
        for (auto& [id, model] : models) all.push_back(std::move(model));
        return all;
    }

private:
    Status not_found(uint64_t id) const {
        return Status(StatusCode::NOT_FOUND,
                      kind_.id_field + " " + std::to_string(id) + " is not " + kind_.a_model +
                          " of this session; use the id " + kind_.load_call + " returned");
    }

    const GenerativeModelKind kind_;
    mutable std::mutex mutex_;
    bool closed_ = false;
    size_t loading_ = 0;  // loads under way, counted against the limit
    std::map<uint64_t, std::shared_ptr<Served>> models_;
};

}  // namespace corun::service
