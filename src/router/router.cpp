#include "router/router.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "router/routing_outcome.hpp"

namespace corun::router {
namespace {

using Clock = std::chrono::steady_clock;

std::string default_label(VDevice& vdevice) {
    const auto devices = vdevice.physical_devices();
    return devices.empty() ? vdevice.group_id() : devices.front().id;
}

std::string quoted_list(const std::vector<std::string>& names) {
    std::string text;
    for (const auto& name : names) text += (text.empty() ? "'" : ", '") + name + "'";
    return text;
}

std::string milliseconds_text(std::chrono::nanoseconds duration) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.1f",
                  std::chrono::duration<double, std::milli>(duration).count());
    return text;
}

}  // namespace

Expected<std::shared_ptr<Router>> Router::create(const std::string& onnx_path,
                                                 const RoutedModelParams& params) {
    CORUN_CHECK(!params.placements.empty(), StatusCode::INVALID_ARGUMENT,
                "a routed model needs at least one placement, and RoutedModelParams::placements "
                "is empty: add {label, vdevice} for each device, in order of preference");
    CORUN_CHECK(params.health.failures_to_take_out >= 1, StatusCode::INVALID_ARGUMENT,
                "PlacementHealthParams::failures_to_take_out is 0; it must be at least 1 (the "
                "consecutive failures that take a placement out of service)");
    CORUN_CHECK(params.health.probe_interval.count() >= 0, StatusCode::INVALID_ARGUMENT,
                "PlacementHealthParams::probe_interval is " +
                    std::to_string(params.health.probe_interval.count()) +
                    " ms; it must be 0 or more");
    std::shared_ptr<Router> router(new Router(onnx_path, params));
    router->model_name_ = std::filesystem::path(onnx_path).stem().string();  // InferModel's name
    std::set<std::string> labels;
    for (size_t i = 0; i < params.placements.size(); ++i) {
        const Placement& placement = params.placements[i];
        CORUN_CHECK(placement.vdevice != nullptr, StatusCode::INVALID_ARGUMENT,
                    "placement " + std::to_string(i) + " ('" + placement.label +
                        "') has no VDevice; give each placement the VDevice it runs on");
        std::string label =
            placement.label.empty() ? default_label(*placement.vdevice) : placement.label;
        CORUN_CHECK(labels.insert(label).second, StatusCode::INVALID_ARGUMENT,
                    "two placements are labelled '" + label +
                        "'; give each a label of its own (Placement::label)");
        router->placements_.emplace_back(std::move(label), placement.vdevice, params.health);
    }

    Status last_failure;
    bool any_loaded = false;
    for (size_t i = 0; i < router->placements_.size(); ++i) {
        std::shared_ptr<InferModel> model;
        auto configured = router->configure_placement(i, model);
        if (!configured.has_value() && configured.status().code() == StatusCode::INVALID_ARGUMENT &&
            model != nullptr) {
            return configured.status();  // the caller's settings, wrong on every placement
        }
        if (configured.has_value()) {
            if (!any_loaded) {
                any_loaded = true;
                router->model_name_ = model->info().name;
                router->input_names_ = configured->get_input_names();
                router->output_names_ = configured->get_output_names();
            }
            CORUN_RETURN_IF_ERROR(router->check_streams(i, *configured));
            router->placements_[i].install(std::move(model), configured.release());
            continue;
        }
        last_failure = configured.status();
        router->placements_[i].mark_not_loaded(last_failure);
        spdlog::warn(
            "routed model '{}': placement '{}' cannot run it ({}); its frames go to the "
            "next placement",
            router->model_name_, router->placements_[i].label(), last_failure.to_string());
    }
    if (!any_loaded) {
        return last_failure.with_context("routed model '" + onnx_path +
                                         "': no placement could load it; the last");
    }
    return router;
}

Expected<ConfiguredInferModel> Router::configure_placement(size_t index,
                                                           std::shared_ptr<InferModel>& model) {
    VDevice& vdevice = placements_[index].vdevice();
    const std::string context = "placement '" + placements_[index].label() + "'";
    if (!model) {
        CORUN_TRY(model, vdevice.create_infer_model(onnx_path_), context + ": loading");
    }
    CORUN_RETURN_IF_ERROR(apply_routed_settings(*model, params_), context);
    CORUN_TRY(auto configured, configure_routed(*model, params_), context + ": configuring");
    return configured;
}

Status Router::check_streams(size_t index, ConfiguredInferModel& configured) {
    CORUN_TRY(auto bindings, configured.create_bindings());
    std::vector<StreamDescription> streams;
    for (const auto& name : configured.get_input_names()) {
        CORUN_TRY(auto stream, bindings.input(name));
        streams.push_back({name, true, stream.get_frame_size()});
    }
    for (const auto& name : configured.get_output_names()) {
        CORUN_TRY(auto stream, bindings.output(name));
        streams.push_back({name, false, stream.get_frame_size()});
    }
    if (streams_.empty()) {
        streams_ = std::move(streams);
        return Status::ok();
    }
    bool same = streams.size() == streams_.size();
    for (size_t s = 0; same && s < streams.size(); ++s) {
        same = streams[s].name == streams_[s].name && streams[s].is_input == streams_[s].is_input &&
               streams[s].frame_size == streams_[s].frame_size;
    }
    CORUN_CHECK(same, StatusCode::INVALID_ARGUMENT,
                "placement '" + placements_[index].label() + "' configured model '" + model_name_ +
                    "' with other streams or frame sizes than the placements before it; a routed "
                    "model needs the same model file and user formats on every placement");
    return Status::ok();
}

Expected<size_t> Router::frame_size(const std::string& stream) const {
    for (const auto& description : streams_) {
        if (description.name == stream) return description.frame_size;
    }
    std::vector<std::string> names;
    for (const auto& description : streams_) names.push_back(description.name);
    return Status(StatusCode::NOT_FOUND, "routed model '" + model_name_ + "' has no stream '" +
                                             stream + "'; its streams are " + quoted_list(names));
}

Status Router::check_buffer(const std::string& stream, MemoryView view) const {
    CORUN_TRY(const size_t expected, frame_size(stream));
    CORUN_CHECK(view.data == nullptr || view.size == expected, StatusCode::INVALID_ARGUMENT,
                "routed model '" + model_name_ + "': stream '" + stream + "' takes " +
                    std::to_string(expected) + " bytes per frame, got " +
                    std::to_string(view.size) +
                    "; size the buffer for the user format set in RoutedModelParams::formats");
    return Status::ok();
}

Expected<std::shared_ptr<RoutedRequest>> Router::accept(const RoutedModel::Bindings& bindings) {
    CORUN_CHECK(bindings.router_.get() == this, StatusCode::INVALID_ARGUMENT,
                "these bindings were made by another routed model; create them with this model's "
                "create_bindings() ('" +
                    model_name_ + "')");
    {
        std::lock_guard lock(mutex_);
        CORUN_CHECK(!closed_, StatusCode::SHUTDOWN,
                    "routed model '" + model_name_ + "' was shut down; create it again");
        ++requests_;
    }
    auto request = std::make_shared<RoutedRequest>();
    request->buffers = bindings.buffers_;
    request->submitted = Clock::now();
    if (params_.latency_slo.count() > 0)
        request->deadline = request->submitted + params_.latency_slo;
    return request;
}

Expected<std::shared_ptr<RoutedRequest>> Router::submit(const RoutedModel::Bindings& bindings,
                                                        RoutedCallback callback,
                                                        std::optional<Clock::time_point> deadline) {
    CORUN_TRY(auto request, accept(bindings));
    request->callback = std::move(callback);
    if (deadline && (!request->deadline || *deadline < *request->deadline)) {
        request->deadline = deadline;
        request->own_deadline = true;
    }
    route(request);
    return request;
}

Expected<std::shared_ptr<RoutedRequest>> Router::run(const RoutedModel::Bindings& bindings,
                                                     std::chrono::milliseconds timeout) {
    CORUN_TRY(auto request, accept(bindings));
    request->synchronous = true;
    if (!waits_forever(timeout)) request->run_deadline = request->submitted + timeout;
    route(request);
    return request;
}

void Router::route(const std::shared_ptr<RoutedRequest>& request) {
    for (;;) {
        std::optional<Dispatch> dispatch;
        std::optional<Status> stop;
        {
            std::lock_guard lock(mutex_);
            if (closed_) {
                stop = Status(StatusCode::SHUTDOWN, "routed model '" + model_name_ +
                                                        "' was shut down before the frame ran");
            } else {
                dispatch = next_dispatch(*request);
                if (!dispatch) stop = no_placement_left(*request);
            }
        }
        if (stop) {
            finish(request, std::move(*stop), std::nullopt, InferTiming{});
            return;
        }
        log_refusals(*request, placements_[dispatch->index].label());
        request->left_placement.reset();
        ++request->attempts;
        request->predicted = dispatch->predicted;
        InferTiming timing;
        std::optional<Status> outcome;
        auto bindings = dispatch->configured.create_bindings(request->buffers);
        if (bindings.has_value()) {
            outcome = attempt(request, *dispatch, *bindings, timing);
            if (!outcome) return;  // the attempt's callback goes on from here
        } else {
            outcome = bindings.status();
        }
        if (outcome->is_ok()) {
            attempt_ran(request, dispatch->index, dispatch->probe, timing);
            return;
        }
        if (request->synchronous && outcome->code() == StatusCode::TIMEOUT &&
            Clock::now() >= request->run_deadline) {
            // The caller's timeout, not the placement's failure: no further placement is tried.
            if (dispatch->probe) {
                std::lock_guard lock(mutex_);
                placements_[dispatch->index].abandon_probe();
            }
            request->refused.push_back({placements_[dispatch->index].label(), *outcome});
            request->refusals_logged = request->refused.size();  // the caller's own doing
            finish(request, *outcome, std::nullopt, InferTiming{});
            return;
        }
        if (!attempt_refused(*request, dispatch->index, dispatch->probe, *outcome)) {
            finish(request, *outcome, std::nullopt, InferTiming{});
            return;
        }
    }
}

// Through corund a frame with a deadline of its own goes by the session stream (the
// shared-memory lanes carry none). A frame whose deadline is only the routed model's SLO does
// not need to carry it to its first placement there: the placement has the same SLO
// (set_latency_slo) and applies it as it queues the frame, so the frame keeps the lanes. After
// a fallback the SLO's deadline is nearer than a fresh one would be, and it goes along.
std::optional<Clock::time_point> Router::deadline_to_send(const RoutedRequest& request,
                                                          size_t index) const {
    if (!request.deadline) return std::nullopt;
    const bool remote = placements_[index].vdevice().params().multi_process_service;
    if (remote && !request.own_deadline && request.attempts == 1) return std::nullopt;
    return request.deadline;
}

std::optional<Status> Router::attempt(const std::shared_ptr<RoutedRequest>& request,
                                      const Dispatch& dispatch,
                                      const ConfiguredInferModel::Bindings& bindings,
                                      InferTiming& timing) {
    ConfiguredInferModel configured = dispatch.configured;
    const std::optional<Clock::time_point> deadline = deadline_to_send(*request, dispatch.index);
    if (!request->synchronous) {
        AsyncInferCallback callback = [self = shared_from_this(), request, index = dispatch.index,
                                       probe =
                                           dispatch.probe](const AsyncInferCompletionInfo& info) {
            self->attempt_finished(request, index, probe, info);
        };
        auto job = deadline ? configured.run_async(bindings, *deadline, std::move(callback))
                            : configured.run_async(bindings, std::move(callback));
        if (!job.has_value()) return job.status();
        job->detach();
        return std::nullopt;
    }
    // run() would wait for queue space; a full placement is passed over as run_async's would be.
    const size_t queue_size = configured.get_async_queue_size().value();
    const size_t in_flight = configured.get_frames_in_flight().value();
    if (in_flight >= queue_size) {
        return Status(StatusCode::QUEUE_IS_FULL, "run: " + std::to_string(in_flight) + " of " +
                                                     std::to_string(queue_size) +
                                                     " queue slots are busy");
    }
    const auto started = Clock::now();
    if (started >= request->run_deadline) {
        return Status(StatusCode::TIMEOUT, "run: the timeout passed before placement '" +
                                               placements_[dispatch.index].label() + "' was tried");
    }
    const auto remaining =
        request->run_deadline == Clock::time_point::max()
            ? INFINITE_TIMEOUT
            : std::chrono::ceil<std::chrono::milliseconds>(request->run_deadline - started);
    // With a deadline, the placement's admission checks it (corund's too) and the timing
    // brings back the prediction it was checked against.
    Status status = deadline ? configured.run(bindings, *deadline, remaining, &timing)
                             : configured.run(bindings, remaining);
    timing.total_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count();
    return status;
}

void Router::attempt_ran(const std::shared_ptr<RoutedRequest>& request, size_t index, bool probe,
                         const InferTiming& timing) {
    std::string back_in_service;
    {
        std::lock_guard lock(mutex_);
        RoutedPlacement& placement = placements_[index];
        const bool was_out = placement.condition() == PlacementCondition::TAKEN_OUT;
        // The scheduler's own prediction at admission where it made one (a frame with a
        // deadline), else the router's look before sending it.
        const auto predicted = timing.predicted_ns > 0
                                   ? std::optional(std::chrono::nanoseconds(timing.predicted_ns))
                                   : request->predicted;
        placement.count_ran(probe, std::chrono::nanoseconds(timing.total_ns), predicted);
        if (was_out && placement.condition() == PlacementCondition::IN_SERVICE) {
            back_in_service = placement.label();
        }
    }
    if (!back_in_service.empty()) {
        spdlog::info("routed model '{}': placement '{}' ran its probe frame; back in service",
                     model_name_, back_in_service);
    }
    finish(request, Status::ok(), index, timing);
}

std::optional<Router::Dispatch> Router::next_dispatch(RoutedRequest& request) {
    const auto time = now();
    for (size_t i = request.next_placement; i < placements_.size(); ++i) {
        const auto admission = placements_[i].admit(time);
        if (admission == PlacementHealth::Admission::SKIP) continue;
        request.next_placement = i + 1;
        const bool probe = admission == PlacementHealth::Admission::PROBE;
        const ConfiguredInferModel& configured = *placements_[i].configured();
        // In process a prediction is a look at the scheduler. Through corund it would be a
        // call to the service per frame: instead the frame carries its deadline there, the
        // service's own admission refuses it if it is predicted late (the router then falls
        // back, as from any rejection), and its prediction comes back with the completion.
        std::optional<std::chrono::nanoseconds> predicted;
        if (!placements_[i].vdevice().params().multi_process_service) {
            if (auto prediction = configured.predicted_latency(); prediction.has_value()) {
                predicted = *prediction;
            }
        }
        if (request.deadline && predicted && Clock::now() + *predicted > *request.deadline) {
            pass_over_predicted_late(request, i, probe, *predicted);
            continue;
        }
        if (request.left_placement) placements_[*request.left_placement].count_fallback_away();
        return Dispatch{i, configured, probe, predicted};
    }
    request.next_placement = placements_.size();
    return std::nullopt;
}

void Router::pass_over_predicted_late(RoutedRequest& request, size_t index, bool probe,
                                      std::chrono::nanoseconds predicted) {
    RoutedPlacement& placement = placements_[index];
    const auto late_by = Clock::now() + predicted - *request.deadline;
    if (probe) placement.abandon_probe();
    placement.count_rejected(false, StatusCode::DEADLINE_EXCEEDED);
    if (request.left_placement) placements_[*request.left_placement].count_fallback_away();
    request.refused.push_back(
        {placement.label(),
         Status(StatusCode::DEADLINE_EXCEEDED,
                "predicted to take " + milliseconds_text(predicted) + " ms, finishing " +
                    milliseconds_text(late_by) +
                    " ms after the frame's deadline; the router passed it over")});
    request.left_placement = index;
}

Status Router::no_placement_left(const RoutedRequest& request) const {
    std::string text = "no placement of routed model '" + model_name_ + "' ran the frame:";
    std::set<std::string> tried;
    for (const auto& attempt : request.refused) {
        text += " '" + attempt.placement + "' " + attempt.status.to_string() + ";";
        tried.insert(attempt.placement);
    }
    for (const auto& placement : placements_) {
        if (tried.count(placement.label())) continue;
        text += " '" + placement.label() + "' " + placement_condition_name(placement.condition()) +
                (placement.condition_reason().empty() ? ""
                                                      : " (" + placement.condition_reason() + ")") +
                ";";
    }
    if (!request.refused.empty()) return Status(request.refused.back().status.code(), text);
    return Status(StatusCode::OUT_OF_PHYSICAL_DEVICES,
                  text +
                      " restore_placement() brings a removed placement back, and a taken-out "
                      "one is probed again after PlacementHealthParams::probe_interval");
}

void Router::attempt_finished(const std::shared_ptr<RoutedRequest>& request, size_t index,
                              bool probe, const AsyncInferCompletionInfo& info) {
    if (info.status.is_ok()) {
        attempt_ran(request, index, probe, info.timing);
    } else if (attempt_refused(*request, index, probe, info.status)) {
        route(request);
    } else {
        finish(request, info.status, std::nullopt, InferTiming{});
    }
}

bool Router::attempt_refused(RoutedRequest& request, size_t index, bool probe,
                             const Status& status) {
    const AttemptOutcome outcome = classify_attempt(status.code());
    bool taken_out = false;
    std::string label;
    {
        std::lock_guard lock(mutex_);
        RoutedPlacement& placement = placements_[index];
        label = placement.label();
        switch (outcome) {
            case AttemptOutcome::REJECTED:
                placement.count_rejected(probe, status.code());
                break;
            case AttemptOutcome::FAILED:
                taken_out = placement.count_failed(probe, status, now());
                break;
            case AttemptOutcome::RAN:
            case AttemptOutcome::CALLER_ERROR:
                if (probe) placement.abandon_probe();
                break;
        }
    }
    request.refused.push_back({label, status});
    if (taken_out) {
        spdlog::warn(
            "routed model '{}': placement '{}' taken out of service after {} consecutive "
            "failures (the last: {}); a frame probes it again after {} ms",
            model_name_, label, params_.health.failures_to_take_out, status.to_string(),
            params_.health.probe_interval.count());
    }
    if (!falls_back(outcome)) return false;
    request.left_placement = index;
    return true;
}

void Router::finish(const std::shared_ptr<RoutedRequest>& request, Status status,
                    std::optional<size_t> ran_on, InferTiming timing) {
    RoutedCompletionInfo info;
    info.attempts = request->attempts;
    info.refused = request->refused;
    {
        std::lock_guard lock(mutex_);
        if (status.is_ok()) {
            ++completed_;
            info.placement = placements_[*ran_on].label();
            info.placement_index = *ran_on;
        } else {
            ++failed_;
        }
    }
    if (!status.is_ok()) log_refusals(*request, "");
    info.status = std::move(status);
    info.timing = timing;
    info.timing.total_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - request->submitted)
            .count();
    request->complete(std::move(info));
}

void Router::log_refusals(RoutedRequest& request, const std::string& to) {
    for (; request.refusals_logged < request.refused.size(); ++request.refusals_logged) {
        const RoutingAttempt& refusal = request.refused[request.refusals_logged];
        // A frame wrong in itself is the caller's to hear of (its status), not the log's.
        if (!falls_back(classify_attempt(refusal.status.code()))) continue;
        log_fallback(refusal.placement, refusal.status, to);
    }
}

void Router::log_fallback(const std::string& from, const Status& why, const std::string& to) {
    const auto held_back = fallback_log_.admit(from, why.code(), now());
    if (!held_back) return;
    const std::string more =
        *held_back ? " (and " + std::to_string(*held_back) + " more like it since the last line)"
                   : "";
    if (to.empty()) {
        spdlog::warn(
            "routed model '{}': placement '{}' did not run a frame ({}), and no placement "
            "after it could{}",
            model_name_, from, why.to_string(), more);
    } else {
        spdlog::info("routed model '{}': placement '{}' did not run a frame ({}); routed to '{}'{}",
                     model_name_, from, why.to_string(), to, more);
    }
}

Expected<size_t> Router::index_of(const std::string& label) const {
    for (size_t i = 0; i < placements_.size(); ++i) {
        if (placements_[i].label() == label) return i;
    }
    return Status(StatusCode::NOT_FOUND, "routed model '" + model_name_ + "' has no placement '" +
                                             label + "'; its placements are " +
                                             quoted_list(labels_unlocked()));
}

std::vector<std::string> Router::labels_unlocked() const {
    std::vector<std::string> labels;
    for (const auto& placement : placements_) labels.push_back(placement.label());
    return labels;
}

std::vector<std::string> Router::labels() const {
    std::lock_guard lock(mutex_);
    return labels_unlocked();
}

Status Router::remove_placement(const std::string& label) {
    std::optional<ConfiguredInferModel> configured;
    {
        std::lock_guard lock(mutex_);
        CORUN_TRY(const size_t index, index_of(label));
        if (placements_[index].condition() == PlacementCondition::REMOVED) return Status::ok();
        configured = placements_[index].remove();
    }
    spdlog::info(
        "routed model '{}': placement '{}' removed; its queued frames go to the next "
        "placement",
        model_name_, label);
    // Its queued frames complete with SHUTDOWN here, and their callbacks route them on.
    if (configured) configured->shutdown().ignore();
    return Status::ok();
}

Status Router::restore_placement(const std::string& label) {
    size_t index = 0;
    std::shared_ptr<InferModel> model;
    {
        std::lock_guard lock(mutex_);
        CORUN_CHECK(!closed_, StatusCode::SHUTDOWN,
                    "routed model '" + model_name_ + "' was shut down; create it again");
        CORUN_TRY(index, index_of(label));
        RoutedPlacement& placement = placements_[index];
        switch (placement.condition()) {
            case PlacementCondition::IN_SERVICE:
                return Status::ok();
            case PlacementCondition::TAKEN_OUT:
                placement.restore_health();
                spdlog::info("routed model '{}': placement '{}' put back in service", model_name_,
                             label);
                return Status::ok();
            case PlacementCondition::REMOVED:
            case PlacementCondition::NOT_LOADED:
                model = placement.loaded_model();
                break;
        }
    }
    // Configuring takes a while (a load, if it never loaded): not under the lock.
    auto configured = configure_placement(index, model);
    if (configured.has_value()) {
        CORUN_RETURN_IF_ERROR(check_streams(index, *configured));
    }
    std::lock_guard lock(mutex_);
    if (!configured.has_value()) {
        if (placements_[index].condition() == PlacementCondition::NOT_LOADED) {
            placements_[index].mark_not_loaded(configured.status());
        }
        return configured.status();
    }
    if (closed_) {
        configured->shutdown().ignore();
        return Status(StatusCode::SHUTDOWN,
                      "routed model '" + model_name_ + "' was shut down; create it again");
    }
    placements_[index].install(std::move(model), configured.release());
    spdlog::info("routed model '{}': placement '{}' back in service", model_name_, label);
    return Status::ok();
}

RoutedModelStats Router::stats() const {
    std::lock_guard lock(mutex_);
    RoutedModelStats stats;
    stats.model = model_name_;
    stats.requests = requests_;
    stats.completed = completed_;
    stats.failed = failed_;
    for (const auto& placement : placements_) stats.placements.push_back(placement.stats());
    return stats;
}

Status Router::shutdown() {
    std::vector<ConfiguredInferModel> configured;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return Status::ok();
        closed_ = true;
        for (const auto& placement : placements_) {
            if (placement.configured()) configured.push_back(*placement.configured());
        }
    }
    // Queued frames complete with SHUTDOWN; their callbacks see the router closed and finish
    // them. Each shutdown() returns once its callbacks have (unless called from one).
    for (auto& model : configured) model.shutdown().ignore();
    return Status::ok();
}

void Router::set_clock(std::function<Clock::time_point()> now) {
    std::lock_guard lock(mutex_);
    now_ = std::move(now);
}

}  // namespace corun::router
