// ConfiguredInferModel, Bindings and AsyncInferJob: running inference (HailoRT's InferModel
// API, chapter 14.7). A ConfiguredInferModel is a handle: copies share one pipeline.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "corun/format.hpp"
#include "corun/pix_buffer.hpp"

namespace corun {

struct ConfiguredPipeline;
struct InferJob;
namespace runtime {
struct ApiAccess;  // the runtime's own door to what these handles hold
}

// HailoRT's HAILO_INFINITE_TIMEOUT. The one rule for every call that takes a timeout (run,
// wait_for_async_ready, AsyncInferJob::wait): a timeout at or above it waits forever.
constexpr std::chrono::milliseconds INFINITE_TIMEOUT{UINT32_MAX};
constexpr bool waits_forever(std::chrono::milliseconds timeout) {
    return timeout >= INFINITE_TIMEOUT;
}

// A user buffer: corun never owns it. It must stay valid until the job that uses it completes.
struct MemoryView {
    MemoryView() = default;
    MemoryView(void* data, size_t size) : data(data), size(size) {}
    template <typename T>
    static MemoryView of(std::vector<T>& values) {
        return MemoryView(values.data(), values.size() * sizeof(T));
    }
    void* data = nullptr;
    size_t size = 0;
};

// Where a job's time went, in nanoseconds. device = the device executing the model;
// conversion = format conversion (quantize, transpose) on the host before and after;
// queue = waiting for the device. total = from run_async() to completion. predicted = the
// latency the scheduler predicted when it admitted the job (what it checked the deadline
// against), for a job with a deadline (its own or the model's SLO); 0 for a job without one.
// Through corund it is the service's prediction for a job with a deadline of its own (sent by
// the session stream), so a caller compares prediction and outcome without asking the service
// again; a job whose only deadline is the model's SLO goes by the shared-memory lanes, which
// do not carry it (0).
struct InferTiming {
    int64_t queue_ns = 0;
    int64_t conversion_ns = 0;
    int64_t device_ns = 0;
    int64_t total_ns = 0;
    int64_t predicted_ns = 0;
};

struct AsyncInferCompletionInfo {
    explicit AsyncInferCompletionInfo(Status status) : status(std::move(status)) {}
    Status status;  // SUCCESS, or why the job failed (SHUTDOWN when shut down before it ran)
    InferTiming timing;
    uint32_t frames = 0;
};
using AsyncInferCallback = std::function<void(const AsyncInferCompletionInfo&)>;

class AsyncInferJob {
public:
    AsyncInferJob() = default;
    AsyncInferJob(AsyncInferJob&&) noexcept;
    AsyncInferJob& operator=(AsyncInferJob&&) noexcept;
    AsyncInferJob(const AsyncInferJob&) = delete;
    AsyncInferJob& operator=(const AsyncInferJob&) = delete;
    // Blocks until the job is done unless detach() was called.
    ~AsyncInferJob();

    // The job's status once it is done within `timeout`; TIMEOUT if it is still running.
    Status wait(std::chrono::milliseconds timeout);
    // Lets the job finish on its own: the destructor will not wait.
    void detach();
    bool is_done() const;

private:
    friend class ConfiguredInferModel;
    friend struct runtime::ApiAccess;
    explicit AsyncInferJob(std::shared_ptr<InferJob> job);
    std::shared_ptr<InferJob> job_;
    bool detached_ = false;
};

class ConfiguredInferModel {
public:
    // The buffers of one inference request (one frame).
    class Bindings {
    public:
        class InferStream {
        public:
            // Fails with INVALID_ARGUMENT (naming both sizes) unless view.size equals the
            // stream's frame size in the configured format, or view.data is null (unbinds).
            // A zero-size stream (a dimension is 0) takes MemoryView(nullptr, 0), or nothing.
            // An optional input left unbound is omitted: the model runs without it.
            Status set_buffer(MemoryView view);
            // Converts a YUV 4:2:0 camera frame (pix_buffer.hpp) into a frame of this input,
            // held by these bindings (and their copies, and the jobs that run them): the planes
            // are read now, so they may be reused once this returns. The input must be an image
            // of 3 channels (NHWC or NCHW, any numeric type: pixel values 0..255 as they are)
            // with an even height and width; INVALID_OPERATION otherwise, INVALID_ARGUMENT
            // (naming the expected sizes) for planes that do not match that height and width.
            Status set_pix_buffer(const PixBuffer& pix_buffer);
            Expected<MemoryView> get_buffer() const;
            const std::string& name() const;
            // Bytes of one frame in the configured (user) format: what set_buffer expects.
            size_t get_frame_size() const;
            // The configured stream, in the user's format: shape (in the user's order), type
            // and order, quantization. These are what configure() fixed from the shapes then
            // in force (set_shape), for inputs and outputs alike.
            std::vector<int64_t> shape() const;
            Format format() const;
            std::vector<QuantInfo> get_quant_infos() const;

        private:
            friend class Bindings;
            InferStream(Bindings* owner, size_t index) : owner_(owner), index_(index) {}
            Bindings* owner_;
            size_t index_;  // inputs first, then outputs
        };

        Expected<InferStream> input();
        Expected<InferStream> output();
        Expected<InferStream> input(const std::string& name);
        Expected<InferStream> output(const std::string& name);

    private:
        friend class ConfiguredInferModel;
        friend struct runtime::ApiAccess;
        explicit Bindings(std::shared_ptr<const ConfiguredPipeline> pipeline);
        Expected<InferStream> find(const std::string& name, bool is_input);
        Expected<InferStream> single(bool is_input);
        std::shared_ptr<const ConfiguredPipeline> pipeline_;
        std::vector<MemoryView> buffers_;  // in stream order: inputs, then outputs
        // Frames converted by set_pix_buffer, by stream; shared with copies and running jobs.
        std::vector<std::shared_ptr<const std::vector<uint8_t>>> converted_frames_;
    };

    Expected<Bindings> create_bindings();
    // Binds every named buffer; unknown names and wrong sizes fail with the name.
    Expected<Bindings> create_bindings(const std::map<std::string, MemoryView>& buffers);

    // SUCCESS once `frames_count` more frames fit in the async queue; TIMEOUT otherwise.
    // frames_count above get_async_queue_size() can never fit: INVALID_ARGUMENT at once.
    Status wait_for_async_ready(std::chrono::milliseconds timeout, uint32_t frames_count = 1);

    // Synchronous inference. On TIMEOUT the job is cancelled, and the call returns only once
    // corun no longer touches the buffers.
    Status run(const Bindings& bindings, std::chrono::milliseconds timeout);
    // corun: synchronous inference with a deadline, admitted as run_async's with a deadline (a
    // frame predicted to finish after it returns DEADLINE_EXCEEDED at once, naming the
    // predicted finish). The timeout still bounds the wait; INVALID_ARGUMENT for the steady
    // clock's epoch. `timing`, if given, receives the frame's timing (the prediction it was
    // admitted or refused on included) when it ran or was refused; it is left as it was when
    // the call timed out or could not queue the frame.
    Status run(const Bindings& bindings, std::chrono::steady_clock::time_point deadline,
               std::chrono::milliseconds timeout, InferTiming* timing = nullptr);

    // Queues one frame (or several, as one burst). Fails with QUEUE_IS_FULL when they do not
    // fit (call wait_for_async_ready first), SHUTDOWN after shutdown(). The callback runs on a
    // corun thread once the job is done, before wait() returns; keep it short. It may call
    // shutdown() (which then does not wait) and run_async(); an exception it throws is caught
    // and logged to stderr (docs/API.md, "Callbacks").
    Expected<AsyncInferJob> run_async(const Bindings& bindings,
                                      AsyncInferCallback callback = nullptr);
    Expected<AsyncInferJob> run_async(const std::vector<Bindings>& bindings,
                                      AsyncInferCallback callback = nullptr);
    // As run_async, for a job that must be complete by `deadline` (corun; the earlier of it and
    // the latency SLO holds). A job predicted to finish later completes at once with
    // DEADLINE_EXCEEDED, naming the predicted finish, instead of running late (docs/SCHEDULER.md,
    // "Deadlines"). The steady clock is the machine's monotonic clock, so through corund the
    // deadline means the same instant in the service.
    Expected<AsyncInferJob> run_async(const Bindings& bindings,
                                      std::chrono::steady_clock::time_point deadline,
                                      AsyncInferCallback callback = nullptr);
    Expected<AsyncInferJob> run_async(const std::vector<Bindings>& bindings,
                                      std::chrono::steady_clock::time_point deadline,
                                      AsyncInferCallback callback = nullptr);

    // Frames that can be queued at once (2 x batch size, at least 2).
    Expected<size_t> get_async_queue_size() const;
    // Frames queued or running now. Both return Expected as HailoRT's get_async_queue_size
    // does; neither fails today.
    Expected<size_t> get_frames_in_flight() const;

    // Model scheduler knobs (HailoRT's), effective from the next scheduling decision.
    // Priority 0..31, higher wins (default 16). Threshold: frames queued before the model is
    // ready (1..queue size, default 1). Timeout: a model with at least one frame queued becomes
    // ready once that frame waited this long (default 0 = wait for the threshold). All return
    // INVALID_OPERATION on a VDevice created with SchedulingAlgorithm::NONE.
    Status set_scheduler_priority(uint32_t priority);
    Status set_scheduler_threshold(uint32_t threshold);
    Status set_scheduler_timeout(const std::chrono::milliseconds& timeout);
    // corun: a latency SLO. Every frame must complete within `slo` of being queued; within a
    // priority level frames with a deadline run earliest deadline first, and a frame predicted
    // to miss its deadline completes at once with DEADLINE_EXCEEDED (run() returns it), so the
    // caller can skip the frame or send it elsewhere. 0 = no SLO (default). INVALID_ARGUMENT
    // for a negative SLO; INVALID_OPERATION under SchedulingAlgorithm::NONE.
    Status set_latency_slo(std::chrono::milliseconds slo);
    // corun: the latency the scheduler predicts for a frame queued now: what runs and waits
    // ahead of it, plus its own execution planned from its model's last 10 bursts (the SLO's
    // deadline decides what goes ahead). UNINITIALIZED until a frame of this model has run.
    Expected<std::chrono::nanoseconds> predicted_latency() const;

    // Jobs not yet started complete with SHUTDOWN; running ones finish; later calls fail
    // with SHUTDOWN. Returns once every callback has returned, except when called from a
    // callback: then it returns at once (running jobs finish, and call their callbacks, later).
    // Idempotent. The destructor of the last handle calls it.
    Status shutdown();

    // Each frame's run-time bound, from InferModel::set_frame_time_limit at configure().
    std::chrono::milliseconds get_frame_time_limit() const;

    // Identifies this configured model in VDevice::get_scheduler_stats().
    uint64_t scheduler_model_id() const;

    const std::vector<std::string>& get_input_names() const;
    const std::vector<std::string>& get_output_names() const;

private:
    friend class InferModel;
    friend struct runtime::ApiAccess;
    explicit ConfiguredInferModel(std::shared_ptr<ConfiguredPipeline> pipeline);
    std::shared_ptr<ConfiguredPipeline> pipeline_;
};

}  // namespace corun
