#include "runtime/genai/scheduled_generative_model.hpp"

#include <algorithm>
#include <filesystem>

#include "runtime/local_backend.hpp"

namespace corun::genai::detail {

Expected<ScheduledGenerativeModel> ScheduledGenerativeModel::add(runtime::LocalBackend& backend,
                                                                 const std::string& model_path,
                                                                 bool preemption) {
    const uint64_t model_id = backend.next_model_id();
    const std::string name = std::filesystem::path(model_path).stem().string();
    CORUN_RETURN_IF_ERROR(backend.scheduler().add_model(model_id, name, {}));
    return ScheduledGenerativeModel(backend.scheduler(), model_id, preemption);
}

ScheduledGenerativeModel::ScheduledGenerativeModel(ScheduledGenerativeModel&& other) noexcept
    : scheduler_(other.scheduler_),
      model_id_(other.model_id_),
      preemption_(other.preemption_),
      removed_(other.removed_),
      priority_(other.priority_.load()),
      params_(other.params_) {
    other.removed_ = true;  // the moved-to object removes the model
}

corun::Status ScheduledGenerativeModel::update(scheduler::ModelSchedulingParams params) {
    CORUN_RETURN_IF_ERROR(scheduler_.set_params(model_id_, params));
    params_ = params;
    priority_ = params.priority;
    return corun::Status::ok();
}

corun::Status ScheduledGenerativeModel::set_priority(uint8_t priority) {
    CORUN_RETURN_IF_ERROR(scheduler::check_priority(priority));
    std::lock_guard lock(mutex_);
    auto params = params_;
    params.priority = priority;
    return update(params);
}

corun::Status ScheduledGenerativeModel::set_timeout(std::chrono::milliseconds timeout) {
    if (timeout.count() < 0) {
        return corun::Status(StatusCode::INVALID_ARGUMENT, "the timeout must not be negative");
    }
    std::lock_guard lock(mutex_);
    auto params = params_;
    params.timeout = timeout;
    return update(params);
}

corun::Status ScheduledGenerativeModel::enqueue(scheduler::InferRequest request) {
    request.model_id = model_id_;
    request.preemptible = true;
    return scheduler_.enqueue(std::move(request));
}

void ScheduledGenerativeModel::cancel_queued(const corun::Status& reason) {
    scheduler_.cancel_queued(model_id_, reason);
}

void ScheduledGenerativeModel::remove() {
    if (removed_) return;
    removed_ = true;
    scheduler_.remove_model(model_id_);
}

void ScheduledGenerativeModel::UnitClock::preemption_point() {
    if (model_.preemption_ && model_.scheduler_.outranked(model_.priority_.load())) {
        lent_ns_ += model_.scheduler_.yield_to_outranking(model_.model_id_, device_index_);
    }
}

int64_t ScheduledGenerativeModel::UnitClock::device_ns() const {
    const int64_t elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now() - started_)
                                .count();
    return std::max<int64_t>(0, elapsed - lent_ns_);
}

}  // namespace corun::genai::detail
