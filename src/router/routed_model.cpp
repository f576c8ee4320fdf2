// The public RoutedModel, its Bindings and RoutedInferJob: handles over the Router.
#include "corun/routed_model.hpp"

#include "router/router.hpp"

namespace corun {

const char* placement_condition_name(PlacementCondition condition) {
    switch (condition) {
        case PlacementCondition::IN_SERVICE:
            return "IN_SERVICE";
        case PlacementCondition::TAKEN_OUT:
            return "TAKEN_OUT";
        case PlacementCondition::REMOVED:
            return "REMOVED";
        case PlacementCondition::NOT_LOADED:
            return "NOT_LOADED";
    }
    return "UNKNOWN";
}

RoutedInferJob::RoutedInferJob(std::shared_ptr<router::RoutedRequest> request)
    : request_(std::move(request)) {}

RoutedInferJob::RoutedInferJob(RoutedInferJob&& other) noexcept
    : request_(std::move(other.request_)), detached_(other.detached_) {}

RoutedInferJob& RoutedInferJob::operator=(RoutedInferJob&& other) noexcept {
    if (this != &other) {
        if (request_ && !detached_) request_->wait(INFINITE_TIMEOUT).ignore();
        request_ = std::move(other.request_);
        detached_ = other.detached_;
    }
    return *this;
}

RoutedInferJob::~RoutedInferJob() {
    if (request_ && !detached_) request_->wait(INFINITE_TIMEOUT).ignore();
}

Status RoutedInferJob::wait(std::chrono::milliseconds timeout) {
    if (!request_) {
        return Status(StatusCode::INVALID_OPERATION,
                      "this RoutedInferJob holds no frame (default-constructed or moved from)");
    }
    return request_->wait(timeout);
}

void RoutedInferJob::detach() {
    detached_ = true;
}

bool RoutedInferJob::is_done() const {
    return request_ && request_->is_done();
}

Expected<RoutedCompletionInfo> RoutedInferJob::completion() const {
    if (!request_) {
        return Status(StatusCode::INVALID_OPERATION,
                      "this RoutedInferJob holds no frame (default-constructed or moved from)");
    }
    return request_->completion();
}

RoutedModel::Bindings::Bindings(std::shared_ptr<const router::Router> router)
    : router_(std::move(router)) {}

Status RoutedModel::Bindings::set_buffer(const std::string& stream, MemoryView view) {
    CORUN_RETURN_IF_ERROR(router_->check_buffer(stream, view));
    if (view.data == nullptr) {
        buffers_.erase(stream);
    } else {
        buffers_[stream] = view;
    }
    return Status::ok();
}

Expected<MemoryView> RoutedModel::Bindings::get_buffer(const std::string& stream) const {
    CORUN_RETURN_IF_ERROR(router_->check_buffer(stream, MemoryView()));
    auto found = buffers_.find(stream);
    if (found == buffers_.end()) {
        return Status(StatusCode::NOT_FOUND, "stream '" + stream + "' has no buffer bound");
    }
    return found->second;
}

RoutedModel::RoutedModel(std::shared_ptr<router::Router> router) : router_(std::move(router)) {}

RoutedModel::~RoutedModel() {
    shutdown().ignore();
}

Expected<std::shared_ptr<RoutedModel>> RoutedModel::create(const std::string& onnx_path,
                                                           const RoutedModelParams& params) {
    CORUN_TRY(auto router, router::Router::create(onnx_path, params));
    return std::shared_ptr<RoutedModel>(new RoutedModel(std::move(router)));
}

Expected<RoutedModel::Bindings> RoutedModel::create_bindings(
    const std::map<std::string, MemoryView>& buffers) {
    Bindings bindings(router_);
    for (const auto& [stream, view] : buffers) {
        CORUN_RETURN_IF_ERROR(bindings.set_buffer(stream, view));
    }
    return bindings;
}

Expected<RoutedCompletionInfo> RoutedModel::run(const Bindings& bindings,
                                                std::chrono::milliseconds timeout) {
    CORUN_TRY(auto request, router_->run(bindings, timeout));
    CORUN_TRY(auto completion, request->completion());
    if (!completion.status.is_ok()) return completion.status;
    return completion;
}

Expected<RoutedInferJob> RoutedModel::run_async(const Bindings& bindings, RoutedCallback callback) {
    CORUN_TRY(auto request, router_->submit(bindings, std::move(callback)));
    return RoutedInferJob(std::move(request));
}

Expected<RoutedInferJob> RoutedModel::run_async(const Bindings& bindings,
                                                std::chrono::steady_clock::time_point deadline,
                                                RoutedCallback callback) {
    CORUN_TRY(auto request, router_->submit(bindings, std::move(callback), deadline));
    return RoutedInferJob(std::move(request));
}

Status RoutedModel::remove_placement(const std::string& label) {
    return router_->remove_placement(label);
}

Status RoutedModel::restore_placement(const std::string& label) {
    return router_->restore_placement(label);
}

Expected<size_t> RoutedModel::get_frame_size(const std::string& stream) const {
    return router_->frame_size(stream);
}

RoutedModelStats RoutedModel::get_stats() const {
    return router_->stats();
}

std::vector<std::string> RoutedModel::placement_labels() const {
    return router_->labels();
}

const std::string& RoutedModel::name() const {
    return router_->model_name();
}

const std::vector<std::string>& RoutedModel::get_input_names() const {
    return router_->input_names();
}

const std::vector<std::string>& RoutedModel::get_output_names() const {
    return router_->output_names();
}

Status RoutedModel::shutdown() {
    return router_->shutdown();
}

}  // namespace corun
