// RoutedModel: one logical model over an ordered list of placements, each a configured model on
// a VDevice the caller created ("npu-sim:0", "cpu", in-process or through corund). Each frame
// runs on the first placement that takes it; a placement that rejects the frame (queue full,
// deadline), fails it (device failure), was removed or could not load the model passes it to the
// next, with one log line saying why. The same user formats are set on every placement, so the
// outputs are the same whichever ran. docs/ROUTER.md, "Routed models".
//
// Link corun_router (it sits above the runtime and uses only the public API).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corun/configured_infer_model.hpp"
#include "corun/expected.hpp"
#include "corun/format.hpp"
#include "corun/vdevice.hpp"

namespace corun {

namespace router {
class Router;              // what every handle of one routed model shares
struct RoutedRequest;      // one frame on its way through the placements
struct RoutedModelAccess;  // the router's own door for tests (a clock in virtual time)
}  // namespace router

// One place a routed model may run.
struct Placement {
    // Names the placement in reports, stats and logs; unique within a routed model. Empty = the
    // VDevice's first device id ("npu-sim:0", "cpu:0").
    std::string label;
    std::shared_ptr<VDevice> vdevice;
};

// The user's side of one stream, set alike on every placement before configure().
struct RoutedStreamFormat {
    std::string stream;  // an input or output name of the model
    std::optional<FormatType> type;
    std::optional<FormatOrder> order;
    // InferStream::set_shape (native order, batch dimension included) when not empty.
    std::vector<int64_t> native_shape;
};

// When a placement that keeps failing is taken out of service, and when it is tried again.
struct PlacementHealthParams {
    // Consecutive failed frames (DEVICE_FAILURE, TIMEOUT, ...; not rejections) that take a
    // placement out. At least 1.
    uint32_t failures_to_take_out = 3;
    // How long a taken-out placement is left alone before one frame is sent to it as a probe:
    // the probe's success puts it back in service, its failure leaves it out for another
    // interval (the probe frame itself falls back like any other).
    std::chrono::milliseconds probe_interval{1000};
};

struct RoutedModelParams {
    std::vector<Placement> placements;  // in order of preference; at least one
    std::vector<RoutedStreamFormat> formats;
    uint16_t batch_size = 0;  // InferModel::set_batch_size on every placement (0 = corun picks)
    std::optional<uint32_t> scheduler_priority;  // set_scheduler_priority on every placement
    // set_latency_slo on every placement (0 = none): every frame must complete within it, so a
    // placement predicted to take longer is passed over (docs/ROUTER.md, "Deadlines").
    std::chrono::milliseconds latency_slo{0};
    PlacementHealthParams health;
};

enum class PlacementCondition {
    IN_SERVICE,  // frames are routed to it
    TAKEN_OUT,   // failed failures_to_take_out times in a row; probed after probe_interval
    REMOVED,     // remove_placement(); restore_placement() brings it back
    NOT_LOADED,  // the model did not load or configure there (say, a model the NPU cannot run)
};
const char* placement_condition_name(PlacementCondition condition);

// A placement that was tried for a frame and did not run it.
struct RoutingAttempt {
    std::string placement;
    Status status;  // QUEUE_IS_FULL, DEVICE_FAILURE, SHUTDOWN (removed) ...
};

// Where one frame ran.
struct RoutedCompletionInfo {
    Status status;               // SUCCESS, or why no placement ran the frame
    std::string placement;       // the label of the placement that ran it; "" if none
    size_t placement_index = 0;  // its position in RoutedModelParams::placements
    uint32_t attempts = 0;       // placements tried, the one that ran it included
    // The placements that did not run it, in order, with why: tried, or passed over as
    // predicted to miss the frame's deadline.
    std::vector<RoutingAttempt> refused;
    // The successful run's (from run_async: queue, conversion, device), total_ns counted from
    // the routed run_async/run; run() fills in total_ns only.
    InferTiming timing;
};
using RoutedCallback = std::function<void(const RoutedCompletionInfo&)>;

// What one placement has done for the routed model.
struct PlacementStats {
    std::string label;
    // Its configured model's ConfiguredInferModel::scheduler_model_id() (the id in the
    // placement VDevice's get_scheduler_stats()); 0 while the model is not configured there.
    uint64_t scheduler_model_id = 0;
    PlacementCondition condition = PlacementCondition::IN_SERVICE;
    std::string condition_reason;  // why it is not in service; "" when it is
    uint64_t frames_run = 0;       // frames that ran here successfully
    // Frames this placement refused, by reason: QUEUE_IS_FULL, DEADLINE_EXCEEDED (predicted to
    // finish after the frame's deadline: by the router, or by the placement's admission),
    // SHUTDOWN (removed while queued), RESOURCE_LIMIT (a corund limit).
    std::map<StatusCode, uint64_t> rejections;
    uint64_t failures = 0;        // frames that failed here (DEVICE_FAILURE, TIMEOUT, ...)
    uint64_t fallbacks_away = 0;  // of those rejected or failed, the ones passed to a next one
    uint32_t consecutive_failures = 0;
    uint64_t times_taken_out = 0;
    uint64_t probes = 0;  // frames sent while taken out, to see whether it is back
    // Mean latency of its frames, from the placement's run_async to their completion.
    double measured_latency_mean_ms = 0;
    // Frames for which the placement predicted a latency when they were sent
    // (ConfiguredInferModel::predicted_latency), the mean prediction, and the mean absolute
    // difference from what was measured for those frames.
    uint64_t predicted_frames = 0;
    double predicted_latency_mean_ms = 0;
    double prediction_error_mean_ms = 0;
};

struct RoutedModelStats {
    std::string model;
    uint64_t requests = 0;   // frames accepted by run/run_async
    uint64_t completed = 0;  // of those, ran somewhere
    uint64_t failed = 0;     // of those, no placement ran (every one refused or failed)
    std::vector<PlacementStats> placements;  // in order of preference
};

// A routed frame in flight (as AsyncInferJob): the destructor waits unless detach() was called.
class RoutedInferJob {
public:
    RoutedInferJob() = default;
    RoutedInferJob(RoutedInferJob&&) noexcept;
    RoutedInferJob& operator=(RoutedInferJob&&) noexcept;
    RoutedInferJob(const RoutedInferJob&) = delete;
    RoutedInferJob& operator=(const RoutedInferJob&) = delete;
    ~RoutedInferJob();

    // The frame's status once done within `timeout`; TIMEOUT if it is still queued or running.
    Status wait(std::chrono::milliseconds timeout);
    void detach();
    bool is_done() const;
    // Where the frame ran; INVALID_OPERATION while it is not done yet.
    Expected<RoutedCompletionInfo> completion() const;

private:
    friend class RoutedModel;
    explicit RoutedInferJob(std::shared_ptr<router::RoutedRequest> request);
    std::shared_ptr<router::RoutedRequest> request_;
    bool detached_ = false;
};

class RoutedModel {
public:
    // The buffers of one frame, by stream name. Sizes are those of the user formats, which
    // are the same on every placement.
    class Bindings {
    public:
        // INVALID_ARGUMENT naming the stream and both sizes unless view.size is the stream's
        // frame size; NOT_FOUND listing the streams for an unknown name.
        Status set_buffer(const std::string& stream, MemoryView view);
        Expected<MemoryView> get_buffer(const std::string& stream) const;

    private:
        friend class RoutedModel;
        friend class router::Router;
        explicit Bindings(std::shared_ptr<const router::Router> router);
        std::shared_ptr<const router::Router> router_;
        std::map<std::string, MemoryView> buffers_;
    };

    // Loads and configures the model on every placement. A placement where that fails is kept,
    // NOT_LOADED, with the reason logged and in get_stats(); INVALID_ARGUMENT for no
    // placements, a null VDevice, a duplicate label, an unknown stream in `formats`, or
    // placements whose configured streams differ; the last failure when no placement loads.
    static Expected<std::shared_ptr<RoutedModel>> create(const std::string& onnx_path,
                                                         const RoutedModelParams& params);

    ~RoutedModel();
    RoutedModel(const RoutedModel&) = delete;
    RoutedModel& operator=(const RoutedModel&) = delete;

    // Binds every named buffer (unknown names and wrong sizes fail naming the stream).
    Expected<Bindings> create_bindings(const std::map<std::string, MemoryView>& buffers = {});

    // Runs one frame and waits for it up to `timeout`: where it ran, or why no placement ran it
    // (the message names each placement and its reason). On TIMEOUT no further placement is
    // tried, and the call returns once the placement holding the frame has finished with it.
    Expected<RoutedCompletionInfo> run(const Bindings& bindings, std::chrono::milliseconds timeout);

    // Queues one frame on the first placement that takes it. The callback runs exactly once,
    // when the frame ran or no placement could run it; on a corun thread, or on the caller's
    // thread before run_async returns when every placement refused it at once. Fails only for
    // bindings of another routed model and after shutdown().
    Expected<RoutedInferJob> run_async(const Bindings& bindings, RoutedCallback callback = nullptr);
    // As run_async, for a frame that must be complete by `deadline` (the earlier of it and the
    // latency SLO holds): it goes to the first placement in service predicted to finish by then
    // (one that cannot predict yet is tried; its own admission decides), and completes with
    // DEADLINE_EXCEEDED, naming each placement's predicted finish, when none is.
    Expected<RoutedInferJob> run_async(const Bindings& bindings,
                                       std::chrono::steady_clock::time_point deadline,
                                       RoutedCallback callback = nullptr);

    // Takes a placement out of service at run time: new frames skip it, frames queued on it fall
    // back to the next placement (SHUTDOWN), running ones finish there. NOT_FOUND for an unknown
    // label (naming the labels).
    Status remove_placement(const std::string& label);
    // Puts a removed or taken-out placement back in service (configuring the model there anew
    // if it was removed); a placement that never loaded is loaded again.
    Status restore_placement(const std::string& label);

    // Bytes of one frame of a stream in the user's format (the same on every placement);
    // NOT_FOUND listing the streams for an unknown name.
    Expected<size_t> get_frame_size(const std::string& stream) const;

    RoutedModelStats get_stats() const;
    std::vector<std::string> placement_labels() const;
    const std::string& name() const;
    const std::vector<std::string>& get_input_names() const;
    const std::vector<std::string>& get_output_names() const;

    // Frames not yet started on any placement complete with SHUTDOWN; later calls fail with
    // SHUTDOWN. Idempotent; the destructor calls it.
    Status shutdown();

private:
    friend struct router::RoutedModelAccess;
    explicit RoutedModel(std::shared_ptr<router::Router> router);
    std::shared_ptr<router::Router> router_;
};

}  // namespace corun
