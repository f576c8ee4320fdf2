// One placement of a routed model: the model loaded and configured on the caller's VDevice,
// whether frames go there (its condition and health), and what it has done (counters). The
// Router holds one per placement and guards them with its lock; loading and configuring, which
// are slow, happen outside it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "corun/infer_model.hpp"
#include "corun/routed_model.hpp"
#include "router/placement_health.hpp"

namespace corun::router {

// The routed model's settings on a model loaded on one placement: the user formats and shapes
// (the same on every placement, so that outputs are too) and the batch size. INVALID_ARGUMENT
// for a stream the model does not have: an error of the caller's, not of the placement.
Status apply_routed_settings(InferModel& model, const RoutedModelParams& params);
// configure() and the scheduler priority.
Expected<ConfiguredInferModel> configure_routed(InferModel& model, const RoutedModelParams& params);

class RoutedPlacement {
public:
    using Clock = std::chrono::steady_clock;

    RoutedPlacement(std::string label, std::shared_ptr<VDevice> vdevice,
                    const PlacementHealthParams& health)
        : label_(std::move(label)), vdevice_(std::move(vdevice)), health_(health) {}

    const std::string& label() const { return label_; }
    VDevice& vdevice() const { return *vdevice_; }
    PlacementCondition condition() const { return condition_; }
    const std::string& condition_reason() const { return condition_reason_; }
    const std::shared_ptr<InferModel>& loaded_model() const { return model_; }
    const std::optional<ConfiguredInferModel>& configured() const { return configured_; }

    // In service with this model, configured.
    void install(std::shared_ptr<InferModel> model, ConfiguredInferModel configured);
    // NOT_LOADED, saying why.
    void mark_not_loaded(const Status& why);
    // REMOVED; returns the configured model for the caller to shut down outside the lock.
    std::optional<ConfiguredInferModel> remove();
    // Back in service from TAKEN_OUT (the configured model is still there).
    void restore_health();

    // Whether a frame may go here now, and whether it is a probe.
    PlacementHealth::Admission admit(Clock::time_point now);

    // Accounting of one frame. `predicted`: the latency the placement predicted when the frame
    // was sent, if it could.
    void count_ran(bool probe, std::chrono::nanoseconds measured,
                   std::optional<std::chrono::nanoseconds> predicted);
    void count_rejected(bool probe, StatusCode reason);
    // true when this failure took the placement out of service.
    bool count_failed(bool probe, const Status& failure, Clock::time_point now);
    void count_fallback_away() { ++stats_.fallbacks_away; }
    // A probe frame that was wrong in itself says nothing of the placement.
    void abandon_probe() { health_.probe_inconclusive(); }

    PlacementStats stats() const;

private:
    std::string label_;
    std::shared_ptr<VDevice> vdevice_;
    std::shared_ptr<InferModel> model_;
    std::optional<ConfiguredInferModel> configured_;
    PlacementCondition condition_ = PlacementCondition::NOT_LOADED;
    std::string condition_reason_ = "not loaded yet";
    PlacementHealth health_;
    PlacementStats stats_;  // the counters; the latency means are computed from the sums below
    std::chrono::nanoseconds measured_sum_{0};
    std::chrono::nanoseconds predicted_sum_{0};
    std::chrono::nanoseconds prediction_error_sum_{0};
};

}  // namespace corun::router
