// The router of one routed model (what every RoutedModel handle and its Bindings share): its
// placements in order of preference, the choice of placement for each frame, and the fallback
// to the next one when a placement rejects or fails it. docs/ROUTER.md, "Routed models".
//
// A frame is tried on the placements in order, each at most once: a placement that refuses it
// at once (run_async fails) or completes it with a rejection or failure passes it on, from its
// own completion callback, to the next placement in service. So only one attempt of a frame is
// ever in flight, and the frame completes exactly once: where it ran, or when no placement is
// left.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "corun/routed_model.hpp"
#include "router/fallback_log.hpp"
#include "router/routed_placement.hpp"
#include "router/routed_request.hpp"

namespace corun::router {

class Router : public std::enable_shared_from_this<Router> {
public:
    using Clock = std::chrono::steady_clock;

    // One stream of the routed model in the user's format: the same on every placement.
    struct StreamDescription {
        std::string name;
        bool is_input = true;
        size_t frame_size = 0;
    };

    static Expected<std::shared_ptr<Router>> create(const std::string& onnx_path,
                                                    const RoutedModelParams& params);

    const std::string& model_name() const { return model_name_; }
    const std::vector<std::string>& input_names() const { return input_names_; }
    const std::vector<std::string>& output_names() const { return output_names_; }
    // Whether `view` fits stream `stream` (set_buffer's check).
    Status check_buffer(const std::string& stream, MemoryView view) const;
    Expected<size_t> frame_size(const std::string& stream) const;

    // Accepts one frame and sends it to its first placement (run_async).
    Expected<std::shared_ptr<RoutedRequest>> submit(
        const RoutedModel::Bindings& bindings, RoutedCallback callback,
        std::optional<Clock::time_point> deadline = std::nullopt);
    // Runs one frame on the caller's thread, placement after placement (run); the request is
    // done when it returns.
    Expected<std::shared_ptr<RoutedRequest>> run(const RoutedModel::Bindings& bindings,
                                                 std::chrono::milliseconds timeout);

    Status remove_placement(const std::string& label);
    Status restore_placement(const std::string& label);
    RoutedModelStats stats() const;
    std::vector<std::string> labels() const;
    Status shutdown();

    // Where the router reads the time for its health and log decisions (tests: virtual time).
    void set_clock(std::function<Clock::time_point()> now);

private:
    Router(std::string onnx_path, RoutedModelParams params)
        : onnx_path_(std::move(onnx_path)), params_(std::move(params)) {}

    // The placement a frame goes to next.
    struct Dispatch {
        size_t index = 0;
        ConfiguredInferModel configured;
        bool probe = false;
        std::optional<std::chrono::nanoseconds> predicted;  // its prediction, if it has one
    };

    // Loads and configures the model on placement `index`; not under the lock.
    Expected<ConfiguredInferModel> configure_placement(size_t index,
                                                       std::shared_ptr<InferModel>& model);
    // Records the streams of the first placement configured, or checks another against them.
    Status check_streams(size_t index, ConfiguredInferModel& configured);
    // The deadline an attempt on placement `index` carries (none: the placement's own SLO, or
    // no deadline at all).
    std::optional<Clock::time_point> deadline_to_send(const RoutedRequest& request,
                                                      size_t index) const;

    Expected<std::shared_ptr<RoutedRequest>> accept(const RoutedModel::Bindings& bindings);
    void route(const std::shared_ptr<RoutedRequest>& request);
    // One attempt: the frame queued on the placement (nullopt: its callback goes on from
    // there), or what the placement said at once; for a synchronous request, what its run()
    // returned, with the time it took in `timing`.
    std::optional<Status> attempt(const std::shared_ptr<RoutedRequest>& request,
                                  const Dispatch& dispatch,
                                  const ConfiguredInferModel::Bindings& bindings,
                                  InferTiming& timing);
    void attempt_ran(const std::shared_ptr<RoutedRequest>& request, size_t index, bool probe,
                     const InferTiming& timing);
    // Under the lock: the first placement from request.next_placement that takes frames now
    // and, for a frame with a deadline, is not predicted to finish after it.
    std::optional<Dispatch> next_dispatch(RoutedRequest& request);
    // Under the lock: passes the frame over placement `index` (predicted to finish after its
    // deadline), as a rejection of that placement.
    void pass_over_predicted_late(RoutedRequest& request, size_t index, bool probe,
                                  std::chrono::nanoseconds predicted);
    // Under the lock: why no placement is left for the frame.
    Status no_placement_left(const RoutedRequest& request) const;
    void attempt_finished(const std::shared_ptr<RoutedRequest>& request, size_t index, bool probe,
                          const AsyncInferCompletionInfo& info);
    // Counts an attempt that did not run the frame; whether the frame goes on to the next.
    bool attempt_refused(RoutedRequest& request, size_t index, bool probe, const Status& status);
    void finish(const std::shared_ptr<RoutedRequest>& request, Status status,
                std::optional<size_t> ran_on, InferTiming timing);
    // Logs each refusal of the frame not logged yet; `to`: where it went ("" when nowhere).
    void log_refusals(RoutedRequest& request, const std::string& to);
    void log_fallback(const std::string& from, const Status& why, const std::string& to);
    Clock::time_point now() const { return now_ ? now_() : Clock::now(); }
    // Under the lock; NOT_FOUND naming the labels.
    Expected<size_t> index_of(const std::string& label) const;
    std::vector<std::string> labels_unlocked() const;

    const std::string onnx_path_;
    const RoutedModelParams params_;
    std::string model_name_;
    std::vector<std::string> input_names_;
    std::vector<std::string> output_names_;
    std::vector<StreamDescription> streams_;

    mutable std::mutex mutex_;
    // Fixed in number and labels once create() returns, so a label may be read without the
    // lock; everything else of a placement is read and changed under it.
    std::vector<RoutedPlacement> placements_;
    bool closed_ = false;
    uint64_t requests_ = 0;
    uint64_t completed_ = 0;
    uint64_t failed_ = 0;
    std::function<Clock::time_point()> now_;
    FallbackLog fallback_log_;
};

}  // namespace corun::router
