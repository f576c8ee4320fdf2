#include "router/routed_placement.hpp"

namespace corun::router {
namespace {

double milliseconds(std::chrono::nanoseconds duration) {
    return std::chrono::duration<double, std::milli>(duration).count();
}

// The stream of `model` named `name`, input or output.
Expected<InferModel::InferStream> stream_named(InferModel& model, const std::string& name) {
    auto input = model.input(name);
    if (input.has_value()) return input;
    auto output = model.output(name);
    if (output.has_value()) return output;
    std::string names;
    for (const auto& stream_name : model.get_input_names()) names += " '" + stream_name + "'";
    for (const auto& stream_name : model.get_output_names()) names += " '" + stream_name + "'";
    return Status(StatusCode::INVALID_ARGUMENT, "RoutedModelParams::formats names stream '" + name +
                                                    "', which model '" + model.info().name +
                                                    "' does not have; its streams are" + names);
}

}  // namespace

Status apply_routed_settings(InferModel& model, const RoutedModelParams& params) {
    for (const RoutedStreamFormat& format : params.formats) {
        CORUN_TRY(auto stream, stream_named(model, format.stream));
        if (format.type) stream.set_format_type(*format.type);
        if (format.order) stream.set_format_order(*format.order);
        if (!format.native_shape.empty()) {
            CORUN_RETURN_IF_ERROR(stream.set_shape(format.native_shape),
                                  "RoutedModelParams::formats, stream '" + format.stream + "'");
        }
    }
    return model.set_batch_size(params.batch_size);
}

Expected<ConfiguredInferModel> configure_routed(InferModel& model,
                                                const RoutedModelParams& params) {
    CORUN_TRY(auto configured, model.configure());
    if (params.scheduler_priority) {
        CORUN_RETURN_IF_ERROR(configured.set_scheduler_priority(*params.scheduler_priority));
    }
    if (params.latency_slo.count() != 0) {
        CORUN_RETURN_IF_ERROR(configured.set_latency_slo(params.latency_slo));
    }
    return configured;
}

void RoutedPlacement::install(std::shared_ptr<InferModel> model, ConfiguredInferModel configured) {
    model_ = std::move(model);
    configured_ = std::move(configured);
    condition_ = PlacementCondition::IN_SERVICE;
    condition_reason_.clear();
    health_.restore();
}

void RoutedPlacement::mark_not_loaded(const Status& why) {
    condition_ = PlacementCondition::NOT_LOADED;
    condition_reason_ = why.to_string();
}

std::optional<ConfiguredInferModel> RoutedPlacement::remove() {
    condition_ = PlacementCondition::REMOVED;
    condition_reason_ = "removed with remove_placement()";
    return std::exchange(configured_, std::nullopt);
}

void RoutedPlacement::restore_health() {
    health_.restore();
    condition_ = PlacementCondition::IN_SERVICE;
    condition_reason_.clear();
}

PlacementHealth::Admission RoutedPlacement::admit(Clock::time_point now) {
    if (condition_ != PlacementCondition::IN_SERVICE &&
        condition_ != PlacementCondition::TAKEN_OUT) {
        return PlacementHealth::Admission::SKIP;
    }
    return health_.admit(now);
}

void RoutedPlacement::count_ran(bool probe, std::chrono::nanoseconds measured,
                                std::optional<std::chrono::nanoseconds> predicted) {
    health_.ran(probe);
    if (probe && condition_ == PlacementCondition::TAKEN_OUT && health_.in_service()) {
        condition_ = PlacementCondition::IN_SERVICE;
        condition_reason_.clear();
    }
    ++stats_.frames_run;
    measured_sum_ += measured;
    if (predicted) {
        ++stats_.predicted_frames;
        predicted_sum_ += *predicted;
        prediction_error_sum_ +=
            *predicted > measured ? *predicted - measured : measured - *predicted;
    }
}

void RoutedPlacement::count_rejected(bool probe, StatusCode reason) {
    if (probe) health_.probe_inconclusive();
    ++stats_.rejections[reason];
}

bool RoutedPlacement::count_failed(bool probe, const Status& failure, Clock::time_point now) {
    ++stats_.failures;
    const bool taken_out = health_.failed(probe, now);
    if (condition_ == PlacementCondition::IN_SERVICE && !health_.in_service()) {
        condition_ = PlacementCondition::TAKEN_OUT;
    }
    if (condition_ == PlacementCondition::TAKEN_OUT) {
        condition_reason_ = std::to_string(health_.consecutive_failures()) +
                            " consecutive failures, the last: " + failure.to_string();
    }
    return taken_out;
}

PlacementStats RoutedPlacement::stats() const {
    PlacementStats stats = stats_;
    stats.label = label_;
    stats.condition = condition_;
    stats.condition_reason = condition_reason_;
    stats.consecutive_failures = health_.consecutive_failures();
    stats.times_taken_out = health_.times_taken_out();
    stats.probes = health_.probes();
    if (configured_) stats.scheduler_model_id = configured_->scheduler_model_id();
    if (stats.frames_run > 0) {
        stats.measured_latency_mean_ms =
            milliseconds(measured_sum_) / static_cast<double>(stats.frames_run);
    }
    if (stats.predicted_frames > 0) {
        const auto frames = static_cast<double>(stats.predicted_frames);
        stats.predicted_latency_mean_ms = milliseconds(predicted_sum_) / frames;
        stats.prediction_error_mean_ms = milliseconds(prediction_error_sum_) / frames;
    }
    return stats;
}

}  // namespace corun::router
